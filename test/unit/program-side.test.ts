/**
 * What a user's program loads: `require("pulumi-linuxnet")` gives the Args and
 * the resource classes, and must not load ssh2, the SSH transport or the
 * doctor, which only the engine's dynamic-provider process (runtime.js) needs.
 * Run against the built package in a fresh Node process, as a program loads it.
 */

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(__dirname, "..", "..");
const INDEX = join(ROOT, "dist", "provider", "index.js");

/** Runs `script` in a fresh `node -e` and returns what it printed as JSON. */
function inFreshNode(script: string): unknown {
  if (!existsSync(INDEX)) {
    throw new Error(`${INDEX} is not built: run \`npx tsc -p tsconfig.json\` first`);
  }
  return JSON.parse(
    execFileSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8" }),
  );
}

/** The modules in require.cache after the script's `require`s, relative to the package. */
const LOADED = `process.stdout.write(JSON.stringify(Object.keys(require.cache).map((k) => require("node:path").relative(${JSON.stringify(ROOT)}, k))))`;

describe("the program side of the package", () => {
  it("loads no ssh2, no SSH transport and no doctor", () => {
    const loaded = inFreshNode(`require(${JSON.stringify(INDEX)}); ${LOADED}`) as string[];
    expect(loaded).toContain("dist/provider/index.js");
    expect(loaded.filter((m) => /node_modules\/ssh2\//.test(m))).toEqual([]);
    expect(loaded.filter((m) => /^dist\/provider\/transport\/(ssh|index)\.js$/.test(m))).toEqual(
      [],
    );
    expect(loaded.filter((m) => /^dist\/provider\/doctor\//.test(m))).toEqual([]);
  });

  it("still offers the doctor, loaded when it is first used", () => {
    const seen = inFreshNode(
      `const l = require(${JSON.stringify(INDEX)});
       const before = Object.keys(require.cache).some((k) => k.includes("/provider/doctor/"));
       process.stdout.write(JSON.stringify({ before, diagnose: typeof l.doctor.diagnose, keys: Object.keys(l) }));`,
    ) as { before: boolean; diagnose: string; keys: string[] };
    expect(seen).toEqual({
      before: false,
      diagnose: "function",
      keys: expect.arrayContaining(["doctor"]),
    });
  });

  it("runtime.js, the provider process's entry, loads ssh2 only when it first dials", () => {
    // A no-change `up` only checks and diffs: loading ssh2 there was 40-60 ms of every operation.
    const RUNTIME = join(ROOT, "dist", "provider", "runtime.js");
    const loaded = inFreshNode(
      `const r = require(${JSON.stringify(RUNTIME)}); r.handler("Namespace"); ${LOADED}`,
    ) as string[];
    expect(loaded).toContain("dist/provider/runtime.js");
    expect(loaded.filter((m) => /node_modules\/ssh2\//.test(m))).toEqual([]);
  });

  it("constructs resources without leaving Error.stackTraceLimit changed, and keeps a failing one's stack", () => {
    // The constructor lowers the limit around the SDK's registration (see resources/program.ts).
    const seen = inFreshNode(
      `const pulumi = require("@pulumi/pulumi");
       pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name + "-id", state: a.inputs }), call: () => ({}) }, "p", "s", false);
       const l = require(${JSON.stringify(INDEX)});
       const before = Error.stackTraceLimit;
       const conn = { host: "10.0.0.1", privateKey: "k" };
       new l.Namespace("ns", { connection: conn, name: "green" });
       const after = Error.stackTraceLimit;
       let stack = "";
       function userProgramFrame() { new l.Namespace("", { connection: conn, name: "blue" }); }
       try { userProgramFrame(); } catch (e) { stack = String(e.stack); }
       process.stdout.write(JSON.stringify({ before, after, afterThrow: Error.stackTraceLimit, stack }));`,
    ) as { before: number; after: number; afterThrow: number; stack: string };
    expect(seen.after).toBe(seen.before);
    expect(seen.afterThrow).toBe(seen.before);
    expect(seen.stack).toMatch(/name/i);
    expect(seen.stack).toContain("userProgramFrame");
  });
});
