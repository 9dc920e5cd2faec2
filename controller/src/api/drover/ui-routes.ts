import { Elysia } from "elysia";
// the dashboard's bundle (scripts/build-ui.ts), imported as text so the single binary carries it
import appJs from "../../../ui/dist/app.js.txt" with { type: "text" };
import appCss from "../../../ui/dist/app.css.txt" with { type: "text" };

/** A static asset, gzipped once, with its ETag. */
function asset(text: string, type: string) {
  const body = new TextEncoder().encode(text);
  const gzipped = Bun.gzipSync(body);
  const etag = `"${new Bun.CryptoHasher("sha256").update(body).digest("hex").slice(0, 16)}"`;
  return (request: Request) => {
    if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers: { etag } });
    const gzip = /\bgzip\b/.test(request.headers.get("accept-encoding") ?? "");
    return new Response(gzip ? gzipped : body, {
      headers: { "content-type": type, etag, "cache-control": "no-cache", vary: "accept-encoding", ...(gzip ? { "content-encoding": "gzip" } : {}) },
    });
  };
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>drover</title>
<link rel="stylesheet" href="/ui/app.css">
</head>
<body>
<div id="app"></div>
<script type="module" src="/ui/app.js"></script>
</body>
</html>
`;

/**
 * The dashboard at /ui: a page, its script and its style, all from the controller itself (no
 * CDN, nothing from the internet). The page holds no data: it signs in and reads the REST API.
 */
export function uiRoutes() {
  const page = asset(PAGE, "text/html; charset=utf-8");
  const js = asset(appJs, "text/javascript; charset=utf-8");
  const css = asset(appCss, "text/css; charset=utf-8");
  const headers = { "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:", "x-content-type-options": "nosniff" };
  const withHeaders = (res: Response) => {
    for (const [k, v] of Object.entries(headers)) res.headers.set(k, v);
    return res;
  };
  return new Elysia()
    .get("/ui", ({ request }) => withHeaders(page(request)), { detail: { summary: "the web dashboard (open: it signs in with a drover user)", tags: ["drover"] } })
    .get("/ui/", ({ request }) => withHeaders(page(request)), { detail: { hide: true } })
    .get("/ui/app.js", ({ request }) => withHeaders(js(request)), { detail: { hide: true } })
    .get("/ui/app.css", ({ request }) => withHeaders(css(request)), { detail: { hide: true } });
}
