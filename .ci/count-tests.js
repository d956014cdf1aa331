// Sums the JUnit reports given as arguments and prints `<passed> <failed> <complete>`, where
// complete is `no` when a report is missing, ran no test, or skipped one (reasons go to stderr).
const fs = require('fs');

let passed = 0;
let failed = 0;
let ok = true;
for (const file of process.argv.slice(2)) {
  if (!fs.existsSync(file)) {
    console.error(`${file}: missing (that suite did not run)`);
    ok = false;
    continue;
  }
  const xml = fs.readFileSync(file, 'utf8');
  const cases = xml.match(/<testcase\b[\s\S]*?(?:\/>|<\/testcase>)/g) ?? [];
  const bad = cases.filter(c => /<(failure|error)\b/.test(c)).length;
  const skipped = cases.filter(c => /<skipped\b/.test(c)).length;
  if (cases.length === 0) {
    console.error(`${file}: ran no test`);
    ok = false;
  }
  if (skipped > 0) {
    console.error(`${file}: ${skipped} skipped test(s)`);
    ok = false;
  }
  passed += cases.length - bad - skipped;
  failed += bad;
}
console.log(`${passed} ${failed} ${ok ? 'yes' : 'no'}`);
