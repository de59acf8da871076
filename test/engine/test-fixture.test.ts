/**
 * examples/test-fixture as a CI suite runs it: vitest with its global setup
 * bringing the network up through the Automation API (an inline program),
 * the suite's tests using it, and the teardown destroying it, also when a
 * test fails (FIXTURE_FAIL=1 adds one that does).
 */

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { engineBin } from "../../lab/engine";
import { cleanupLab, labIdOfFabric, readLabJson } from "../../lab/labhost";
import { requireRoot } from "../support/lab";
import { ROOT, TEST_PASSPHRASE } from "./support";

const FABRIC = "10.215.44.0/24";
const LAB = labIdOfFabric(FABRIC);
const STATE = path.join(ROOT, ".pulumi-state", "lh-fixture");

beforeAll(async () => {
  requireRoot("the engine tier's lab hosts");
  await cleanupLab(LAB);
  fs.rmSync(STATE, { recursive: true, force: true });
  fs.mkdirSync(path.join(STATE, "home"), { recursive: true });
});

afterAll(async () => {
  await cleanupLab(LAB);
  fs.rmSync(STATE, { recursive: true, force: true });
});

/** Runs the example's suite; its exit code, output and time. */
function runSuite(extra: Record<string, string> = {}) {
  const started = Date.now();
  const r = spawnSync(
    "npx",
    ["vitest", "run", "--config", "examples/test-fixture/vitest.config.mts"],
    {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 400_000,
      env: {
        ...process.env,
        PATH: `${engineBin()}:${process.env.PATH}`,
        PULUMI_BACKEND_URL: `file://${STATE}`,
        PULUMI_HOME: path.join(STATE, "home"),
        PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        FIXTURE_FABRIC: FABRIC,
        FIXTURE_STACK: "lh-fixture",
        ...extra,
      },
    },
  );
  return { code: r.status, out: `${r.stdout}\n${r.stderr}`, ms: Date.now() - started };
}

it("brings the network up for the suite, which passes, and destroys it after", async () => {
  const r = runSuite();
  console.log(`examples/test-fixture suite: ${r.ms} ms`);
  expect(r.code, r.out.slice(-3000)).toBe(0);
  expect(r.out).toMatch(/2 passed/);
  expect(r.out).toMatch(/Destroying|destroy/i);
  expect(await readLabJson(LAB)).toBeUndefined();
}, 420_000);

it("destroys it too when a test fails", async () => {
  const r = runSuite({ FIXTURE_FAIL: "1" });
  console.log(`examples/test-fixture suite with a failing test: ${r.ms} ms`);
  expect(r.code).not.toBe(0);
  expect(r.out).toMatch(/1 failed/);
  expect(r.out).toMatch(/2 passed/);
  expect(await readLabJson(LAB)).toBeUndefined();
  expect(fs.existsSync(path.join(ROOT, "examples", "test-fixture", ".pulumi-work"))).toBe(false);
}, 420_000);
