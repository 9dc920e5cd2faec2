import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { currentUser, hadExpiredToken, signOut, whenSignedOut, type Me } from "./api.ts";
import { SignIn } from "./sign-in.tsx";
import { Overview } from "./overview.tsx";
import { NodePage, NodesPage } from "./nodes.tsx";
import { JobPage, JobsPage } from "./jobs.tsx";
import { AdminPage, GroupsPage, ReportsPage } from "./more.tsx";
import "./styles.css";

// drover's dashboard: a single page; the route is the URL's hash (#/jobs/42), never the token.

const PAGES: [string, string][] = [
  ["overview", "Overview"],
  ["nodes", "Nodes"],
  ["jobs", "Jobs"],
  ["groups", "Groups"],
  ["reports", "Reports"],
];

function useRoute(): string[] {
  const read = () => (location.hash.replace(/^#\/?/, "") || "overview").split("/").map(decodeURIComponent);
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener("hashchange", on);
    return () => window.removeEventListener("hashchange", on);
  }, []);
  return route;
}

function App() {
  const [me, setMe] = useState<Me | null>(currentUser);
  const [message, setMessage] = useState(() => (hadExpiredToken() ? "Your session has expired: sign in again." : ""));
  const route = useRoute();
  useEffect(() => {
    whenSignedOut((m) => {
      setMessage(m);
      setMe(null);
    });
    // a token that expires while the page is open returns to sign-in
    const timer = setInterval(() => {
      if (me && me.expiresAt <= Date.now()) signOut("Your session has expired: sign in again.");
    }, 10_000);
    return () => clearInterval(timer);
  }, [me]);
  if (!me) return <SignIn message={message} onSignedIn={(m) => { setMessage(""); setMe(m); }} />;
  const [page, id] = route;
  const pages = me.role === "admin" ? [...PAGES, ["admin", "Admin"] as [string, string]] : PAGES;
  return (
    <>
      <header>
        <strong class="brand">drover</strong>
        <nav aria-label="Pages">
          {pages.map(([key, label]) => (
            <a href={`#/${key}`} aria-current={page === key ? "page" : undefined}>{label}</a>
          ))}
        </nav>
        <span class="who">
          {me.username} ({me.role}) <button type="button" onClick={() => signOut("")}>Sign out</button>
        </span>
      </header>
      <main>
        {page === "nodes" && !id && <NodesPage />}
        {page === "nodes" && id && <NodePage id={id} />}
        {page === "jobs" && !id && <JobsPage me={me} />}
        {page === "jobs" && id && <JobPage id={id} />}
        {page === "groups" && <GroupsPage />}
        {page === "reports" && <ReportsPage />}
        {page === "admin" && me.role === "admin" && <AdminPage />}
        {!["nodes", "jobs", "groups", "reports", "admin"].includes(page!) && <Overview />}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app")!);
