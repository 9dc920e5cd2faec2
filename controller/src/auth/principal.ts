/** Who is making a request. Users act on their own work; admins on everyone's. */
export interface Principal {
  username: string;
  role: "admin" | "user";
}

/** True when the principal may act on work owned by `owner`. */
export function mayActOn(principal: Principal, owner: string): boolean {
  return principal.role === "admin" || principal.username === owner;
}
