import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');

/**
 * These checks read the compiled library (`.jsii`, `lib/`, `assets/`), which the test task builds
 * before jest runs (`npx projen test`).
 */
beforeAll(() => {
  if (!fs.existsSync(path.join(root, '.jsii'))) {
    throw new Error('No .jsii assembly: run `npx projen compile` (the test task does) before these checks');
  }
});

describe('the npm tarball', () => {
  const files: string[] = (() => {
    const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' });
    return JSON.parse(out)[0].files.map((f: { path: string }) => f.path);
  })();

  test('ships the compiled library, the bundled tracker and the relay sources', () => {
    expect(files).toEqual(expect.arrayContaining([
      'lib/index.js',
      'lib/index.d.ts',
      'lib/transwrap-relay.js',
      '.jsii',
      'assets/tracker/tracker.lambda/index.js',
      'relay/Dockerfile',
      'relay/bun.lock',
      'relay/package.json',
      'relay/src/main.ts',
    ]));
  });

  test('ships no TypeScript sources, tests or dev config', () => {
    const unwanted = files.filter(f =>
      f.startsWith('src/') || f.startsWith('test/') || f.startsWith('relay/test/') || f.startsWith('relay/node_modules/')
      || f.startsWith('.ci/') || f.startsWith('bench/') || f === 'tsconfig.dev.json' || f === '.projenrc.ts');
    expect(unwanted).toEqual([]);
  });
});

describe('the Python bindings', () => {
  test('expose TranswrapRelay and its props in module cdk_transwrap_relay', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'pacmak-'));
    try {
      // A wheel needs setuptools from PyPI, which is out of reach here; the generated code is what we check.
      execFileSync('npx', ['jsii-pacmak', '--target', 'python', '--code-only', '--outdir', out], { cwd: root, stdio: 'pipe' });
      const init = fs.readFileSync(findFile(out, path.join('cdk_transwrap_relay', '__init__.py')), 'utf8');
      expect(init).toMatch(/^class TranswrapRelay\(/m);
      expect(init).toMatch(/^class TranswrapRelayProps\b/m);
      expect(init).toMatch(/^class RelayAuth\b/m);
      for (const prop of ['desired_count', 'allowed_ingests', 'allowed_cidrs', 'existing_registry_table', 'auth']) {
        expect(init).toContain(`${prop}: `);
      }
      // The default allow-list is a constant of the class in every language.
      expect(init).toMatch(/def DEFAULT_ALLOWED_INGESTS\(cls\)/);
      // The README's Python examples use only names the bindings define.
      const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
      const examples = [...readme.matchAll(/```python\n([\s\S]*?)```/g)].map(m => m[1]).join('\n');
      const classes = [...examples.matchAll(/\b(Transwrap\w+|Relay\w+)\(/g)].map(m => m[1]);
      const keywords = [...examples.matchAll(/\b([a-z][a-z0-9_]*)=/g)].map(m => m[1]);
      expect(classes.length).toBeGreaterThan(2);
      expect(keywords.length).toBeGreaterThan(4);
      const undefinedNames = [
        ...classes.filter(c => !new RegExp(`^class ${c}\\b`, 'm').test(init)),
        ...keywords.filter(k => !init.includes(`${k}: `)),
      ];
      expect(undefinedNames).toEqual([]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});

function findFile(dir: string, suffix: string): string {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath ?? (entry as any).path, entry.name);
    if (full.endsWith(suffix)) return full;
  }
  throw new Error(`${suffix} was not generated under ${dir}`);
}

describe('the API docs', () => {
  test('every optional prop of every public interface documents its default, and API.md is current', () => {
    const assembly = JSON.parse(fs.readFileSync(path.join(root, '.jsii'), 'utf8'));
    const apiMd = fs.readFileSync(path.join(root, 'API.md'), 'utf8');
    const missing: string[] = [];
    for (const type of Object.values<any>(assembly.types)) {
      if (type.kind !== 'interface') continue;
      for (const prop of type.properties ?? []) {
        if (prop.optional && !prop.docs?.default) missing.push(`${type.name}.${prop.name}`);
        if (!apiMd.includes(`id="${type.fqn}.property.${prop.name}"`)) missing.push(`${type.name}.${prop.name} (not in API.md: run npx projen docgen)`);
      }
    }
    expect(missing).toEqual([]);
  });
});
