// The demo page from a second origin: serves crates/api/demo/ the way
// payments-api does in development (/demo/, its files, and the checkout
// return paths), so that the page reaches the API across origins — CORS
// with credentials, allowed by the API's ALLOWED_ORIGINS.
//
//   node serve.mjs PORT [PORT...]    one listener per port, on 127.0.0.1

import { createServer } from "node:http";
import { readFile, readdir } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../crates/api/demo/", import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
};
/** Paths that are the page itself (the API serves the same ones). */
const PAGE_PATHS = new Set(["/demo/", "/demo/index.html", "/demo/checkout/success", "/demo/checkout/cancel"]);

// Only the files that are there at start, by plain name: no path tricks.
const FILES = new Set((await readdir(ROOT)).filter((name) => TYPES[extname(name)]));

async function handle(request, response) {
  const { pathname } = new URL(request.url, "http://localhost");
  let name = null;
  if (PAGE_PATHS.has(pathname)) name = "index.html";
  else if (pathname.startsWith("/demo/") && FILES.has(pathname.slice("/demo/".length))) {
    name = pathname.slice("/demo/".length);
  }
  if (request.method !== "GET" || name === null) {
    response.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    return;
  }
  const body = await readFile(join(ROOT, name));
  response.writeHead(200, { "Content-Type": TYPES[extname(name)], "Cache-Control": "no-cache" }).end(body);
}

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((p) => !Number.isInteger(p) || p <= 0)) {
  console.error("usage: node serve.mjs PORT [PORT...]");
  process.exit(2);
}
for (const port of ports) {
  createServer((request, response) => {
    handle(request, response).catch((error) => {
      response.writeHead(500).end(String(error));
    });
  }).listen(port, "127.0.0.1", () => console.log(`demo page on http://127.0.0.1:${port}/demo/`));
}
