// The construct keeps its own copy of the relay's allow-list parser (jsii compiles only src/); both
// answer one case table, so neither can change alone. The relay side of this table, the shared
// paths and the construct's container environment are checked under Bun, which loads both
// codebases: relay/test/unit/contract-parity.test.ts.
import { ALLOW_LIST_CASES } from '../harness/allow-list-cases';
import { parseIngestPattern } from '../src/ingest-allow-list';

test.each(ALLOW_LIST_CASES)('the construct answers the shared allow-list case $entry', (c) => {
  if (c.rejected) {
    expect(() => parseIngestPattern(c.entry)).toThrow(/allowedIngests: /);
  } else {
    expect(parseIngestPattern(c.entry)).toMatchObject({ scheme: c.scheme, port: c.port });
  }
});
