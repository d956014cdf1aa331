import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { serveStatic } from '../../src/static.ts';

let root: string;
let dir: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'relay-static-'));
  dir = join(root, 'public');
  await mkdir(dir);
  await writeFile(join(root, 'secret.txt'), 'outside');
  await writeFile(join(dir, 'index.html'), '<!doctype html><title>page</title>');
  await writeFile(join(dir, 'client.ts'), 'export const answer: number = 42;\nimport type { X } from "./x.ts";\nexport type Y = X;\n');
  await writeFile(join(dir, '.hidden'), 'hidden');
  await symlink(join(root, 'secret.txt'), join(dir, 'link.txt'));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('static page serving', () => {
  test('/ is index.html', async () => {
    const res = (await serveStatic(dir, '/'))!;
    expect(res.headers.get('content-type')).toStartWith('text/html');
    expect(await res.text()).toContain('<title>page</title>');
  });

  test('the page may not be framed by another site; scripts are not restricted by a CSP', async () => {
    const res = (await serveStatic(dir, '/'))!;
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('content-security-policy')).toBe("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const js = (await serveStatic(dir, '/client.js'))!;
    expect(js.headers.get('content-security-policy')).toBeNull();
  });

  test('.ts is served as JavaScript, also under its .js name', async () => {
    for (const path of ['/client.ts', '/client.js']) {
      const res = (await serveStatic(dir, path))!;
      expect(res.headers.get('content-type')).toStartWith('text/javascript');
      const code = await res.text();
      expect(code).toContain('42');
      expect(code).not.toContain(': number');
    }
  });

  test('no traversal, hidden files or escaping symlinks', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/.hidden', '/link.txt', '//etc/passwd', '/missing.js', '/%E0%A4%A']) {
      expect(await serveStatic(dir, path)).toBeUndefined();
    }
  });
});
