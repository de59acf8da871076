/**
 * The run's summary: a skipped test fails the run unless it recorded that the
 * kernel lacks what it needs; those are listed as "not verified" and counted
 * apart, never as passed.
 */

import { describe, expect, it } from "vitest";
import { type VitestJsonReport, summarize } from "../../../scripts/summarize-tests";

const FILE = "/repo/test/host/resources/shaping.test.ts";

function report(statuses: Record<string, string>): VitestJsonReport {
  const tests = Object.entries(statuses).map(([fullName, status]) => ({ fullName, status }));
  const count = (s: string) => tests.filter((t) => t.status === s).length;
  return {
    numPassedTests: count("passed"),
    numFailedTests: count("failed"),
    numPendingTests: count("skipped") + count("pending"),
    numTodoTests: count("todo"),
    numTotalTestSuites: 1,
    testResults: [{ name: FILE, assertionResults: tests }],
  };
}

const netem = {
  file: "test/host/resources/shaping.test.ts",
  test: "LinkShaping delays by netem",
  reason: "kernel lacks sch_netem",
};

describe("summarize", () => {
  it("is green when every test passed", () => {
    const s = summarize([{ tier: "host", report: report({ "a b": "passed" }) }]);
    expect(s).toEqual({ ok: true, lines: ["host: 1 passed, 0 failed", "1 passed, 0 failed"] });
  });

  it("lists a recorded skip as not verified, with its reason, and stays green", () => {
    const s = summarize([
      {
        tier: "host",
        report: report({ "a b": "passed", [netem.test]: "skipped" }),
        notVerified: [netem],
      },
    ]);
    expect(s.ok).toBe(true);
    expect(s.lines).toEqual([
      "host: 1 passed, 0 failed, 1 not verified",
      "not verified: LinkShaping delays by netem: kernel lacks sch_netem",
      "1 passed, 0 failed, 1 not verified on this kernel",
    ]);
  });

  it("fails on a skip that nothing recorded, next to one that was", () => {
    const s = summarize([
      {
        tier: "host",
        report: report({ "a b": "passed", [netem.test]: "skipped", "c d": "skipped" }),
        notVerified: [netem],
      },
    ]);
    expect(s.ok).toBe(false);
    expect(s.lines[0]).toBe("host: 1 passed, 0 failed, 1 not verified, 1 skipped");
  });

  it("does not take a record of another file for this one", () => {
    const s = summarize([
      {
        tier: "host",
        report: report({ "a b": "passed", [netem.test]: "skipped" }),
        notVerified: [{ ...netem, file: "test/host/other.test.ts" }],
      },
    ]);
    expect(s.ok).toBe(false);
  });

  it.each([
    ["a failed test", { "a b": "passed", "c d": "failed" }],
    ["a todo", { "a b": "passed", "c d": "todo" }],
    ["no passed test at all", { [netem.test]: "skipped" }],
  ])("fails on %s", (_label, statuses) => {
    expect(summarize([{ tier: "host", report: report(statuses), notVerified: [netem] }]).ok).toBe(
      false,
    );
  });

  it("fails on a tier without a report", () => {
    const s = summarize([{ tier: "engine", report: undefined }]);
    expect(s.ok).toBe(false);
    expect(s.lines[0]).toBe("engine: no report (the tier did not run)");
  });
});
