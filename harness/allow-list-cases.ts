// Node APIs only: jest loads this module too. The shared allow-list case table
// (test/fixtures/allow-list-cases.json) that the construct's and the relay's parsers must both answer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One allow-list entry and whether it is accepted (with the scheme and port it allows). */
export interface AllowListCase {
  readonly entry: string;
  readonly rejected?: boolean;
  readonly scheme?: string;
  readonly port?: number;
}

export const ALLOW_LIST_CASES: readonly AllowListCase[] = JSON.parse(
  readFileSync(join(__dirname, '..', 'test', 'fixtures', 'allow-list-cases.json'), 'utf8'),
).cases;
