/**
 * @module features/console/assets
 * The console's scripts and styles, served by the service itself from its own files and from
 * node_modules (htmx, uPlot): nothing comes from a CDN, and the CSP allows this origin only.
 */
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(import.meta.url);
const packageFile = (pkg: string, file: string) =>
  path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file);
const own = (file: string) => path.join(import.meta.dirname, "assets", file);

/** The only files served under /console/assets/. */
const FILES: Record<string, string> = {
  "console.css": own("console.css"),
  "console.js": own("console.js"),
  "htmx.min.js": packageFile("htmx.org", "dist/htmx.min.js"),
  "uPlot.min.js": packageFile("uplot", "dist/uPlot.iife.min.js"),
  "uPlot.min.css": packageFile("uplot", "dist/uPlot.min.css"),
};
export const ASSET_NAMES = Object.keys(FILES);

const cache = new Map<string, Promise<Buffer>>();

/** The file's bytes and type, read once; undefined for a name not listed. */
export async function asset(name: string): Promise<{ body: Buffer; type: string } | undefined> {
  const file = FILES[name];
  if (!file) return undefined;
  let body = cache.get(name);
  if (!body) {
    body = readFile(file);
    cache.set(name, body);
  }
  const type = name.endsWith(".css") ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8";
  return { body: await body, type };
}
