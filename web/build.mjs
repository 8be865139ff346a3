// Builds the console (web/console/) into web/dist/console/, which the service serves at
// /console/ (service/console/).
//
// Every web/console/*.js is a page's entry module and web/console/<page>.html its page, so a
// new page needs no change here. Scripts and style sheets are bundled and minified with
// content hashes in their names (served with a long cache); each page's HTML is copied with
// its `assets/<page>.js` and `assets/<page>.css` references rewritten to the hashed names.
// MapLibre's worker module is copied beside them (hashed) and its URL compiled into the
// bundles, so the map needs no inline script and no blob: worker source.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "console");
const out = join(here, "dist", "console");
const assets = join(out, "assets");

const hash = (bytes) => createHash("sha256").update(bytes).digest("hex").slice(0, 10).toUpperCase();

rmSync(out, { recursive: true, force: true });
mkdirSync(assets, { recursive: true });

const worker = join(here, "node_modules", "maplibre-gl", "dist", "maplibre-gl-worker.mjs");
const workerName = `maplibre-gl-worker-${hash(readFileSync(worker))}.mjs`;
copyFileSync(worker, join(assets, workerName));

const pages = readdirSync(source)
  .filter((name) => name.endsWith(".js"))
  .sort();
if (pages.length === 0) throw new Error(`no page entry (*.js) in ${source}`);

const result = await build({
  entryPoints: pages.map((name) => join(source, name)),
  outdir: assets,
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  target: ["es2022"],
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  legalComments: "eof",
  metafile: true,
  logLevel: "warning",
  define: { __MAPLIBRE_WORKER__: JSON.stringify(workerName) },
});

// entry (web/console/x.js) -> its hashed script and style sheet, named as the page names them
const hashed = new Map();
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (!meta.entryPoint) continue;
  const page = basename(meta.entryPoint, ".js");
  hashed.set(`assets/${page}.js`, `assets/${basename(file)}`);
  if (meta.cssBundle) hashed.set(`assets/${page}.css`, `assets/${basename(meta.cssBundle)}`);
}

for (const name of readdirSync(source).filter((n) => n.endsWith(".html"))) {
  let html = readFileSync(join(source, name), "utf8");
  html = html.replace(/(href|src)="(assets\/[^"]+)"/g, (whole, attr, ref) => {
    const target = hashed.get(ref);
    if (!target) throw new Error(`${name}: ${ref} is not built (no web/console entry makes it)`);
    return `${attr}="${target}"`;
  });
  writeFileSync(join(out, name), html);
}

const files = readdirSync(assets).length;
console.log(`[build] ${pages.length} page(s), ${files} asset(s) in ${relative(process.cwd(), out) || out}`);
