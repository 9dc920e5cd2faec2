// Entry of the `drover` binary: PGlite's assets first, then the command line.
import "./pglite-assets.ts";
import "../../controller/src/cli.ts";
