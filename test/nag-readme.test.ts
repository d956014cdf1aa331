// The README's cdk-nag snippet, run as a user's app would run it: in its own process, on the
// aws-cdk-lib we declare as the floor, through `app.synth()` and the process's exit code.
import { spawnSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');

/** The README's TypeScript block that registers cdk-nag, as CommonJS (imports become requires). */
function readmeSnippet(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map(m => m[1]).find(b => b.includes('addPlugins'));
  if (!block) throw new Error('README.md has no ```ts block with addPlugins');
  return block.replace(/^import \{ (.+) \} from '(.+)';$/gm, "const { $1 } = require('$2');");
}

/** Synthesizes a user's app with the default relay (and `extra` lines) under the README's snippet. */
function synthUserApp(extra: string): { status: number | null; output: string } {
  const outdir = mkdtempSync(path.join(tmpdir(), 'nag-readme-'));
  const program = [
    "const { App, Stack } = require('aws-cdk-lib');",
    "const s3 = require('aws-cdk-lib/aws-s3');",
    `const { TranswrapRelay } = require(${JSON.stringify(path.join(ROOT, 'lib'))});`,
    `const app = new App({ outdir: ${JSON.stringify(outdir)} });`,
    "const stack = new Stack(app, 'LiveRelay');",
    "new TranswrapRelay(stack, 'Relay');",
    extra,
    // A block scope, so the snippet's `Validations` does not clash with anything above.
    `{\n${readmeSnippet()}}`,
    'app.synth();',
  ].join('\n');
  try {
    const res = spawnSync(process.execPath, ['-e', program], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    return { status: res.status, output: `${res.stdout}\n${res.stderr}` };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

test('the README snippet evaluates the AwsSolutions rules and passes an app with the default relay', () => {
  const { status, output } = synthUserApp('');
  expect(output).not.toMatch(/requires a construct tree/);
  expect(output).toMatch(/AwsSolutions\s*│\s*success/);
  expect(status).toBe(0);
});

test('the README snippet still fails the user\'s own non-compliant resource in the same app', () => {
  const { status, output } = synthUserApp("new s3.Bucket(stack, 'UserBucket');");
  expect(output).toMatch(/AwsSolutions-S1/);
  expect(output).toMatch(/LiveRelay\/UserBucket/);
  // Only the user's bucket is reported: nothing of the relay's.
  expect(output).not.toMatch(/LiveRelay\/Relay\//);
  expect(status).not.toBe(0);
});
