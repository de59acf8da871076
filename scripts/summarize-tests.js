// Prints the counts of each tier from vitest's JSON reports, then the total as
// a plain "N passed, N failed" line. A tier with no report or no test counts
// as failed: a suite that ran nothing must not look green.
//
// A skipped test fails the run too, unless the test recorded why it could not
// verify what it is about (test/support/not-verified.ts writes
// test-results/not-verified-<tier>.jsonl: the kernel lacks a module). Those are
// printed one per line as "not verified: <test>: <reason>" and counted apart:
// never as passed, and not as failed, since CI always runs on such a kernel.
const fs = require("node:fs");

/** Test statuses of vitest's JSON report that mean "did not run". */
const SKIPPED = new Set(["skipped", "pending", "todo", "disabled"]);

/**
 * The summary of the tiers, pure: `tiers` is a list of
 * `{ tier, report, notVerified }`, where `report` is the parsed JSON report
 * (undefined when the tier wrote none) and `notVerified` the records of
 * not-verified tests (`{ file, test, reason }`). Returns the lines to print and
 * whether the run is green.
 */
function summarize(tiers) {
  const lines = [];
  const reasons = [];
  let passed = 0;
  let failed = 0;
  let notVerifiedTotal = 0;
  let ok = true;
  for (const { tier, report, notVerified = [] } of tiers) {
    if (!report) {
      lines.push(`${tier}: no report (the tier did not run)`);
      ok = false;
      continue;
    }
    const p = report.numPassedTests;
    const f = report.numFailedTests + (report.numTotalTestSuites > 0 ? 0 : 1);
    const skipped = report.numPendingTests + report.numTodoTests;
    let explained = 0;
    for (const file of report.testResults ?? []) {
      for (const test of file.assertionResults ?? []) {
        if (!SKIPPED.has(test.status)) continue;
        const record = notVerified.find(
          (r) =>
            r.test === test.fullName && (file.name === r.file || file.name.endsWith(`/${r.file}`)),
        );
        if (!record) continue;
        explained++;
        reasons.push(`not verified: ${test.fullName}: ${record.reason}`);
      }
    }
    const unexplained = Math.max(0, skipped - explained);
    lines.push(
      `${tier}: ${p} passed, ${f} failed` +
        (explained ? `, ${explained} not verified` : "") +
        (unexplained ? `, ${unexplained} skipped` : ""),
    );
    if (p === 0 || f > 0 || unexplained > 0) ok = false;
    passed += p;
    failed += f;
    notVerifiedTotal += explained;
  }
  lines.push(...reasons);
  lines.push(
    `${passed} passed, ${failed} failed` +
      (notVerifiedTotal ? `, ${notVerifiedTotal} not verified on this kernel` : ""),
  );
  return { lines, ok };
}

/** The records of `test-results/not-verified-<tier>.jsonl`; none when there is no file. */
function readNotVerified(tier) {
  const file = `test-results/not-verified-${tier}.jsonl`;
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));
}

function main(tierNames) {
  const tiers = tierNames.map((tier) => {
    const file = `test-results/${tier}.json`;
    return {
      tier,
      report: fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, "utf8")) : undefined,
      notVerified: readNotVerified(tier),
    };
  });
  const { lines, ok } = summarize(tiers);
  for (const line of lines) console.log(line);
  process.exit(ok ? 0 : 1);
}

module.exports = { summarize };

if (require.main === module) main(process.argv.slice(2));
