// SQL migration files are imported as text (Bun's `with { type: "text" }`).
declare module "*.sql" {
  const text: string;
  export default text;
}

// Files embedded into compiled binaries (`with { type: "file" }` yields their path).
declare module "*.wasm" {
  const path: string;
  export default path;
}
declare module "*.tar.gz" {
  const path: string;
  export default path;
}
declare module "*.zst" {
  const path: string;
  export default path;
}
declare module "*.data" {
  const path: string;
  export default path;
}

// parse-prometheus-text-format ships no types (a test's Prometheus text parser)
declare module "parse-prometheus-text-format" {
  export default function parsePrometheusTextFormat(text: string): unknown[];
}
