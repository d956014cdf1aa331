import { realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { VENDOR_MODULES } from './vendor.ts';

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  ico: 'image/x-icon',
  txt: 'text/plain; charset=utf-8',
};

// Only plain names, optionally in sub-folders; no segment may start with a dot, so neither `..`
// nor hidden files can be named, whatever the encoding of the request.
const SAFE_PATH = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

const transpiler = new Bun.Transpiler({ loader: 'ts', target: 'browser' });
const transpiled = new Map<string, { mtimeMs: number; code: string }>();

/**
 * Serves the broadcaster page and its files from `dir`: `/` is `index.html`; a `.ts` file is sent
 * as JavaScript, also when asked for under its `.js` name; `vendor/` holds the browser modules of
 * the relay's dependencies (vendor.ts). Returns `undefined` when there is no
 * such file, so the caller answers 404.
 */
export async function serveStatic(dir: string, pathname: string): Promise<Response | undefined> {
  let name: string;
  try {
    name = decodeURIComponent(pathname === '/' ? '/index.html' : pathname).slice(1);
  } catch {
    return undefined;
  }
  if (!SAFE_PATH.test(name)) return undefined;
  const vendored = VENDOR_MODULES.get(name);
  if (vendored) return send(Bun.file(vendored), TYPES.js!);
  const ext = name.slice(name.lastIndexOf('.') + 1).toLowerCase();
  const file = await existing(dir, name);
  if (file && ext !== 'ts') return send(Bun.file(file), TYPES[ext] ?? 'application/octet-stream');
  const tsName = ext === 'ts' ? name : ext === 'js' ? `${name.slice(0, -3)}.ts` : undefined;
  const tsFile = tsName ? await existing(dir, tsName) : undefined;
  if (!tsFile) return undefined;
  return send(await transpile(tsFile), TYPES.js!);
}

async function existing(dir: string, name: string): Promise<string | undefined> {
  const candidate = join(dir, name);
  const f = Bun.file(candidate);
  if (!(await f.exists())) return undefined;
  // A symlink inside the folder must not lead out of it.
  try {
    const real = realpathSync(candidate);
    const root = realpathSync(dir);
    return real.startsWith(root + sep) ? real : undefined;
  } catch {
    return undefined;
  }
}

async function transpile(file: string): Promise<string> {
  const f = Bun.file(file);
  const mtimeMs = f.lastModified;
  const cached = transpiled.get(file);
  if (cached && cached.mtimeMs === mtimeMs) return cached.code;
  const code = transpiler.transformSync(await f.text());
  transpiled.set(file, { mtimeMs, code });
  return code;
}

function send(body: BodyInit, type: string): Response {
  const headers: Record<string, string> = { 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };
  if (type.startsWith('text/html')) {
    // The page drives camera, microphone and a stream key: no other site may frame it (clickjacking).
    // Only framing is restricted: the page may fetch from and connect to other origins (relays,
    // the demo's playback server).
    headers['x-frame-options'] = 'DENY';
    headers['content-security-policy'] = "frame-ancestors 'none'";
  }
  return new Response(body, { headers });
}
