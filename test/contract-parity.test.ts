// The construct keeps its own copy of the relay's allow-list parser (jsii compiles only src/); both
// answer one case table, so neither can change alone. The relay side of this table, the shared
// paths and the construct's container environment are checked under Bun, which loads both
// codebases: relay/test/unit/contract-parity.test.ts.
import { readFileSync } from 'fs';
import * as path from 'path';
import { parseIngestPattern } from '../src/ingest-allow-list';

interface AllowListCase {
  readonly entry: string;
  readonly rejected?: boolean;
  readonly scheme?: string;
  readonly port?: number;
}

const ALLOW_LIST_CASES: AllowListCase[] = JSON.parse(
  readFileSync(path.join(__dirname, 'fixtures', 'allow-list-cases.json'), 'utf8'),
).cases;

test.each(ALLOW_LIST_CASES)('the construct answers the shared allow-list case $entry', (c) => {
  if (c.rejected) {
    expect(() => parseIngestPattern(c.entry)).toThrow(/allowedIngests: /);
  } else {
    expect(parseIngestPattern(c.entry)).toMatchObject({ scheme: c.scheme, port: c.port });
  }
});
