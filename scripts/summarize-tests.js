// Prints the counts of each tier from vitest's JSON reports, then the total as
// a plain "N passed, N failed" line. A tier with no report or no test counts
// as failed: a suite that ran nothing must not look green.
const fs = require("node:fs");

let passed = 0;
let failed = 0;
let ok = true;
for (const tier of process.argv.slice(2)) {
  const file = `test-results/${tier}.json`;
  if (!fs.existsSync(file)) {
    console.log(`${tier}: no report (the tier did not run)`);
    ok = false;
    continue;
  }
  const report = JSON.parse(fs.readFileSync(file, "utf8"));
  const p = report.numPassedTests;
  const f = report.numFailedTests + (report.numTotalTestSuites > 0 ? 0 : 1);
  const skipped = report.numPendingTests + report.numTodoTests;
  console.log(`${tier}: ${p} passed, ${f} failed${skipped ? `, ${skipped} skipped` : ""}`);
  if (p === 0 || f > 0 || skipped > 0) ok = false;
  passed += p;
  failed += f;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
