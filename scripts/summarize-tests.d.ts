// Types of summarize-tests.js, for its unit test.

/** One not-verified record (test/support/not-verified.ts). */
export interface NotVerifiedRecord {
  readonly file: string;
  readonly test: string;
  readonly reason: string;
}

/** The parts of vitest's JSON report the summary reads. */
export interface VitestJsonReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  numTotalTestSuites: number;
  testResults?: {
    name: string;
    assertionResults?: { fullName: string; status: string }[];
  }[];
}

/** The summary of the tiers: the lines to print and whether the run is green. */
export function summarize(
  tiers: readonly {
    tier: string;
    report: VitestJsonReport | undefined;
    notVerified?: readonly NotVerifiedRecord[];
  }[],
): { lines: string[]; ok: boolean };
