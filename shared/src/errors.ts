/** The kinds of expected failure; each REST dialect maps them to its status codes and body shape. */
export type ErrorKind =
  | "invalid"
  | "unauthenticated"
  | "forbidden"
  | "not_found"
  | "method_not_allowed"
  | "conflict"
  | "too_large"
  | "unsupported_media_type"
  | "too_many_requests"
  | "insufficient_storage"
  | "unavailable";

const statusByKind: Record<ErrorKind, number> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  insufficient_storage: 507,
  unavailable: 503,
};

/** An expected failure with a message a person can act on. Anything else is a bug (500). */
export class DroverError extends Error {
  readonly kind: ErrorKind;
  /** Further lines for dialects that return a list of messages (MWS). */
  readonly details: string[];

  constructor(kind: ErrorKind, message: string, details: string[] = []) {
    super(message);
    this.name = "DroverError";
    this.kind = kind;
    this.details = details;
  }

  get status(): number {
    return statusByKind[this.kind];
  }
}

/** Shorthands for the common cases, so call sites read as sentences. */
export const invalid = (message: string, ...details: string[]) => new DroverError("invalid", message, details);
export const notFound = (message: string) => new DroverError("not_found", message);
export const forbidden = (message: string) => new DroverError("forbidden", message);
export const conflict = (message: string) => new DroverError("conflict", message);
export const unauthenticated = (message = "You are unauthorized to access this area") =>
  new DroverError("unauthenticated", message);

export function statusOf(kind: ErrorKind): number {
  return statusByKind[kind];
}
