// The repository stands alone: a user's clone has nothing beside it, so no file the project
// ships, runs or documents may point outside it.
import { execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
const TRACKED = execFileSync('git', ['ls-files'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
const TEXT_FILES = TRACKED.filter(f => /\.(ts|js|json|md|sh|yml|html|css)$|(^|\/)(Dockerfile|run)$/.test(f) && f !== 'package-lock.json');

function read(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

function isInside(absolute: string): boolean {
  const rel = path.relative(ROOT, absolute);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

test('no tracked file names the workspace folders beside the clone', () => {
  const offenders = TEXT_FILES.filter(f => f !== 'test/repository.test.ts')
    .flatMap(f => read(f).split('\n').map((line, i) => ({ where: `${f}:${i + 1}`, line })))
    .filter(({ line }) => /\.\.\/shared\b|\bshared\/(fixtures|hooks)\b|\/work\/(main|shared)\b/.test(line))
    .map(({ where }) => where);
  expect(offenders).toEqual([]);
});

test('the contracts are referred to by their sections in docs/, never by a design file outside', () => {
  const offenders = TEXT_FILES.filter(f => f !== 'test/repository.test.ts' && /^(src|relay|test|bench|harness|docs)\/|^(README|API)\.md$/.test(f))
    .flatMap(f => read(f).split('\n').map((line, i) => ({ where: `${f}:${i + 1}`, line })))
    .filter(({ line }) => /Contract [0-9]|DESIGN\.md/.test(line))
    .map(({ where }) => where);
  expect(offenders).toEqual([]);
});

test('every path built from a source file\'s own folder exists inside the repository', () => {
  // join(__dirname, …) in Node code, join(import.meta.dir, …) in Bun code, with literal parts only.
  const call = /join\(\s*(?:__dirname|import\.meta\.dir)((?:\s*,\s*'[^']*')+)\s*\)/g;
  const checked: string[] = [];
  const wrong: string[] = [];
  for (const file of TEXT_FILES.filter(f => f.endsWith('.ts'))) {
    for (const m of read(file).matchAll(call)) {
      const parts = [...m[1].matchAll(/'([^']*)'/g)].map(p => p[1]);
      const target = path.join(ROOT, path.dirname(file), ...parts);
      checked.push(`${file}: ${parts.join('/')}`);
      if (!isInside(target) || !existsSync(target)) wrong.push(`${file}: ${parts.join('/')} -> ${target}`);
    }
  }
  expect(checked.length).toBeGreaterThan(5);
  expect(wrong).toEqual([]);
});

test('every relative link in the docs resolves to a file in the repository', () => {
  const broken: string[] = [];
  for (const file of TEXT_FILES.filter(f => f.endsWith('.md'))) {
    for (const m of read(file).matchAll(/\]\(([^)\s]+)\)/g)) {
      const href = m[1].split('#')[0];
      if (href === '' || /^[a-z]+:/i.test(href)) continue;
      const target = path.join(ROOT, path.dirname(file), href);
      if (!isInside(target) || !existsSync(target)) broken.push(`${file}: ${m[1]}`);
    }
  }
  expect(broken).toEqual([]);
});

test('the tracker\'s sample event is in the repository, with its origin', () => {
  const fixture = JSON.parse(read('test/fixtures/ecs-task-state-change.sample.json'));
  expect(fixture['detail-type']).toBe('ECS Task State Change');
  expect(read('test/fixtures/README.md')).toMatch(/docs\.aws\.amazon\.com\/AmazonECS\/latest\/developerguide\/ecs_task_events\.html/);
});
