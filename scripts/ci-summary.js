// Reads mocha JSON reports, prints failures and the closing line "tests: N passed, N failed".
// A report that is missing or empty counts as a failure: a run that executed no test must show.
'use strict';
const fs = require('fs');

let passed = 0;
let failed = 0;
let pending = 0;
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    console.log(`${file}: no report (${err.code || err.message})`);
    failed++;
    continue;
  }
  const s = report.stats || {};
  console.log(`${file}: ${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} pending`);
  if (!s.tests) {
    console.log(`${file}: ran no test`);
    failed++;
  }
  passed += s.passes || 0;
  failed += s.failures || 0;
  pending += s.pending || 0;
  for (const f of report.failures || [])
    console.log(`  FAIL ${f.fullTitle}: ${(f.err && f.err.message) || ''}`);
}
console.log(`tests: ${passed} passed, ${failed} failed${pending ? `, ${pending} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
