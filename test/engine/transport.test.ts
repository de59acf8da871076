/**
 * The connection layer under the real engine: many resources on one host at
 * parallelism 32 against a stock sshd (`MaxSessions 10`), a host whose sshd
 * starts 10 s late, the SSH session killed in the middle of a deployment, and
 * the lab stack's lifecycle as a sudo user behind a jump host. Each ends with
 * the host exactly as it was before (test/support/snapshot.ts).
 *
 * Uses lab ids "ttr2" (hosts h1, jh, su) and "ttr3" (a late host) only. The
 * fixture under fixtures/scale requires the BUILT package: run
 * `npx tsc -p tsconfig.json` first.
 */

import type { EngineEvent } from "@pulumi/pulumi/automation";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, type LabHost, startLab, tcpAccepts } from "../../lab/labhost";
import { requireRoot } from "../support/lab";
import { namespaces } from "../support/oob";
import { type HostSnapshot, snapshotHost } from "../support/snapshot";
import { logLinesSince, logMark, sessionPids, waitForLogLines } from "../support/sshd";
import { waitFor } from "../support/wait";
import { ROOT, createTestStack, labHostConfig, type TestStack } from "./support";

const SCALE = path.join(__dirname, "fixtures", "scale");
const COUNT = 60;
/** How long a deployment may go on after its session was killed before it counts as hung. */
const HANG_MS = 45_000;

/**
 * Pids of this process's descendants (processes this test started: the CLI, the
 * language host, the dynamic-provider process) whose command line matches `re`.
 */
function descendantPids(re: RegExp): number[] {
  const rows = execFileSync("ps", ["-eo", "pid=,ppid=,args="], { encoding: "utf8" })
    .split("\n")
    .map((l) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(l))
    .filter((m) => m !== null)
    .map((m) => ({ pid: Number(m![1]), ppid: Number(m![2]), args: m![3]! }));
  const mine = new Set([process.pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const r of rows) {
      if (!mine.has(r.pid) && mine.has(r.ppid)) {
        mine.add(r.pid);
        grew = true;
      }
    }
  }
  return rows
    .filter((r) => r.pid !== process.pid && mine.has(r.pid) && re.test(r.args))
    .map((r) => r.pid);
}

/** The whole text of a failed automation command (its message carries the CLI's stdout and stderr). */
function failureText(e: unknown): string {
  const err = e as { message?: string; commandResult?: { stdout?: string; stderr?: string } };
  return [err.message, err.commandResult?.stdout, err.commandResult?.stderr]
    .filter(Boolean)
    .join("\n");
}

/** The `error:` lines of a deployment's output: what the user reads. */
function errorLines(text: string): string[] {
  return [
    ...new Set(
      text
        .split("\n")
        .map((l) => l.trim())
        // The engine lists the reasons of a resource that failed to initialize as "* ..." lines.
        .filter((l) => /^error: /.test(l) || /^\* /.test(l)),
    ),
  ];
}

describe("the transport under the real engine", () => {
  let lab: Lab;
  let h1: LabHost;
  const stacks: TestStack[] = [];

  /** Checks out of band that the host has every namespace and veth pair of the scale fixture. */
  async function expectScaleOnHost(h: LabHost, count: number): Promise<void> {
    const want = Array.from({ length: count }, (_, i) => `ts-ns${i}`).sort();
    expect(await namespaces(h)).toEqual(want);
    const links = JSON.parse((await h.exec(["ip", "-json", "addr", "show"])).stdout) as {
      ifname: string;
      addr_info: { local: string }[];
    }[];
    for (let i = 0; i < count; i++) {
      const b = links.find((l) => l.ifname === `ts${i}b`);
      expect(
        b?.addr_info.map((a) => a.local),
        `ts${i}b`,
      ).toContain(`10.77.${i}.2`);
    }
    // A sample of the ends inside their namespaces.
    for (const i of [0, Math.floor(count / 2), count - 1]) {
      const a = JSON.parse(
        (await h.exec(["ip", "-n", `ts-ns${i}`, "-json", "addr", "show", "dev", `ts${i}a`])).stdout,
      )[0] as { addr_info: { local: string }[] };
      expect(a.addr_info.map((x) => x.local)).toContain(`10.77.${i}.1`);
    }
  }

  beforeAll(async () => {
    requireRoot("the engine tier");
    lab = await startLab({
      id: "ttr2",
      hosts: [{ name: "h1" }, { name: "jh" }, { name: "su", sudoUser: true }],
    });
    h1 = lab.host("h1");
  });

  afterAll(async () => {
    // A failed step must not leave a stack behind on a lab host: tear down regardless.
    for (const s of stacks) {
      await s.stack.destroy({ parallel: 32 }).catch(() => undefined);
      await s.dispose();
    }
    await lab?.teardown();
  });

  describe(`${COUNT} namespaces and ${COUNT} veth pairs on one host`, () => {
    let scale: TestStack;
    let before: HostSnapshot;

    beforeAll(async () => {
      scale = await createTestStack(SCALE, "ttr-scale", {
        ...labHostConfig(h1),
        "linuxnet-scale:count": { value: String(COUNT) },
      });
      stacks.push(scale);
      before = await snapshotHost(h1);
    });

    it("deploys at parallelism 32 over one connection, with no Channel open failure", async () => {
      const mark = await logMark(lab, h1);
      const up = await scale.stack.up({ parallel: 32 });
      expect(up.summary.result).toBe("succeeded");
      expect(up.summary.resourceChanges).toEqual({ create: 2 * COUNT + 1 });
      expect(`${up.stdout}\n${up.stderr}`).not.toMatch(/Channel open failure|ssh to /);
      await expectScaleOnHost(h1, COUNT);
      // One provider process, one connection for the whole deployment.
      expect(await waitForLogLines(lab, h1, mark, /Accepted publickey/, 1)).toHaveLength(1);
    });

    it("destroys at parallelism 32, leaving the host exactly as before", async () => {
      const destroy = await scale.stack.destroy({ parallel: 32 });
      expect(destroy.summary.result).toBe("succeeded");
      expect(destroy.summary.resourceChanges).toEqual({ delete: 2 * COUNT + 1 });
      expect(`${destroy.stdout}\n${destroy.stderr}`).not.toMatch(/Channel open failure/);
      expect(await snapshotHost(h1)).toEqual(before);
    });

    it("reports a session killed mid-deploy, and a second up converges with nothing orphaned", async () => {
      // Once a third of the resources exist, the host's SSH session process (sshd itself, PID 1,
      // lives on) first stops answering for a second, so that the engine's next commands are
      // surely in flight on it (some already handed to the shells and run, their answers lost),
      // then is killed: the connection drops under a busy deployment.
      let created = 0;
      let killing: Promise<number[]> | undefined;
      const onEvent = (e: EngineEvent) => {
        if (!e.resOutputsEvent || e.resOutputsEvent.metadata.type === "pulumi:pulumi:Stack") return;
        if (++created === Math.floor((2 * COUNT) / 3) && !killing) {
          killing = (async () => {
            const pids = await sessionPids(h1);
            await h1.exec(["kill", "-STOP", ...pids.map(String)]);
            // Not a wait for something: the freeze itself, long enough to catch commands in flight.
            await new Promise((r) => setTimeout(r, 1_000));
            await h1.exec(["kill", "-KILL", ...pids.map(String)]);
            return pids;
          })();
        }
      };
      let ended = false;
      const deployment = scale.stack
        .up({ parallel: 32, onEvent })
        .then(
          () => ({ failure: undefined as unknown }),
          (failure: unknown) => ({ failure }),
        )
        .finally(() => (ended = true));
      // A provider whose commands never settle would hold the deployment forever: give it a
      // while after the kill (the whole stack takes ~15 s), then end it and say so.
      const outcome = await Promise.race([
        deployment,
        (async () => {
          await waitFor(() => killing !== undefined || ended, {
            timeoutMs: 300_000,
            what: "the deployment to create a third of its resources or end",
          });
          if (!killing) return "ended";
          await killing;
          await new Promise((r) => setTimeout(r, HANG_MS));
          return "hung" as const;
        })(),
      ]);
      const hung = outcome === "hung";
      if (hung) {
        for (const pid of descendantPids(/dynamic-provider/)) process.kill(pid, "SIGKILL");
      }
      const { failure } = await deployment;
      expect(killing, "the session was never killed: the deployment ended first").toBeDefined();
      expect(await killing).not.toEqual([]);
      expect
        .soft(hung, `the deployment hung for ${HANG_MS / 1000} s after its session was killed`)
        .toBe(false);
      expect(failure, "the deployment succeeded although its session was killed").toBeDefined();
      const text = failureText(failure);
      // Clear: every resource error says which host and that the SSH connection broke, and
      // none is a framing or channel error.
      const resourceErrors = errorLines(text).filter(
        (l) =>
          !/update failed|one or more errors|^error: \d+ errors? occurred:$/i.test(l) &&
          // What ending a hung provider process (above) makes the engine say.
          !(hung && /error reading from server/.test(l)),
      );
      expect.soft(resourceErrors.length, text).toBeGreaterThan(0);
      const unclear = resourceErrors.filter(
        (l) => !l.includes(`ssh to ${h1.address}`) || !/connection|channel|session/i.test(l),
      );
      expect
        .soft(unclear, "errors that do not say which host and that its SSH connection broke")
        .toEqual([]);
      expect.soft(text).not.toMatch(/Channel open failure/);

      // The second up converges: everything exists, nothing was left behind unmanaged.
      const again = await scale.stack.up({ parallel: 32 });
      expect(again.summary.result).toBe("succeeded");
      await expectScaleOnHost(h1, COUNT);
      await scale.stack.preview({ expectNoChanges: true });
      const refresh = await scale.stack.refresh({ parallel: 32 });
      expect(refresh.summary.resourceChanges).toEqual({ same: 2 * COUNT + 1 });

      const destroy = await scale.stack.destroy({ parallel: 32 });
      expect(destroy.summary.result).toBe("succeeded");
      expect(await snapshotHost(h1)).toEqual(before);
    });
  });

  it("deploys to a host whose sshd starts 10 s late, retrying the dial", async () => {
    const late = await startLab({ id: "ttr3", hosts: [{ name: "late", sshdDelayMs: 10_000 }] });
    // startLab returns at once for a delayed host: its sshd comes up about 10 s from now.
    const sshdStarts = Date.now() + 10_000;
    const host = late.host("late");
    let test: TestStack | undefined;
    let destroyed = false;
    try {
      test = await createTestStack(SCALE, "ttr-late", {
        ...labHostConfig(host),
        "linuxnet:dialTimeoutMs": { value: "30000" },
        "linuxnet-scale:count": { value: "2" },
      });
      // Still booting when the deployment starts.
      expect(await tcpAccepts(host.address, host.port, 300)).toBe(false);
      const up = await test.stack.up();
      expect(up.summary.result).toBe("succeeded");
      expect(up.summary.resourceChanges).toEqual({ create: 5 });
      expect(Date.now()).toBeGreaterThanOrEqual(sshdStarts - 1_000);
      expect(await namespaces(host)).toEqual(["ts-ns0", "ts-ns1"]);
      // The failed dials were refused TCP connections, not logins: one login in all.
      expect(await waitForLogLines(late, host, 0, /Accepted publickey/, 1)).toHaveLength(1);

      const destroy = await test.stack.destroy();
      expect(destroy.summary.result).toBe("succeeded");
      destroyed = true;
      expect(await namespaces(host)).toEqual([]);
    } finally {
      // While the host still exists: a destroy after teardown would wait out the dial deadline.
      if (!destroyed) await test?.stack.destroy().catch(() => undefined);
      await test?.dispose();
      await late.teardown();
    }
  });

  describe("the lab stack as a sudo user behind a jump host", () => {
    let jh: LabHost;
    let su: LabHost;
    let test: TestStack;
    let before: HostSnapshot;
    let mark: number;

    beforeAll(async () => {
      jh = lab.host("jh");
      su = lab.host("su");
      test = await createTestStack(ROOT, "ttr-sudojump", {
        ...labHostConfig(su),
        "linuxnet:user": { value: su.sudoUser! },
        "linuxnet:sudo": { value: "true" },
      });
      stacks.push(test);
      await test.stack.setConfig("linuxnet:proxy.host", { value: jh.address }, true);
      await test.stack.setConfig("linuxnet:proxy.hostKey", { value: jh.hostKey }, true);
      await test.stack.setConfig(
        "linuxnet:proxy.privateKey",
        { value: jh.privateKey, secret: true },
        true,
      );
      before = await snapshotHost(su);
      mark = await logMark(lab, su);
    });

    const ping = async (from: string, to: string) =>
      (await su.exec(["ip", "netns", "exec", from, "ping", "-c", "1", "-w", "10", to])).exitCode;

    it("previews without touching the host", async () => {
      const preview = await test.stack.preview();
      expect(preview.changeSummary).toEqual({ create: 12 });
      expect(await snapshotHost(su)).toEqual(before);
    });

    it("builds the network on the target, logged in as lnlab through the jump host", async () => {
      const up = await test.stack.up();
      expect(up.summary.result).toBe("succeeded");
      expect(up.summary.resourceChanges).toEqual({ create: 12 });
      expect(await namespaces(su)).toEqual(["ns-blue", "ns-green"]);
      const br = JSON.parse((await su.exec(["ip", "-json", "addr", "show", "dev", "br0"])).stdout);
      expect(br[0].addr_info.map((a: { local: string }) => a.local)).toContain("10.0.0.254");
      expect((await su.exec(["iptables", "-t", "nat", "-S", "POSTROUTING"])).stdout).toMatch(
        /-s 10\.0\.0\.0\/24 -o eth0 .*linuxnet:nat-/,
      );
      expect(await ping("ns-blue", "10.0.0.2")).toBe(0);
      // Every login on the target came from the jump host, as the sudo user; none from here.
      const logins = await waitForLogLines(lab, su, mark, /Accepted/, 1);
      for (const l of logins) expect(l).toContain(`for lnlab from ${jh.address} `);
      expect(await waitForLogLines(lab, jh, 0, /Accepted publickey for root/, 1)).not.toEqual([]);
    });

    it("changes nothing on a second up and on refresh", async () => {
      const up = await test.stack.up();
      expect(up.summary.resourceChanges).toEqual({ same: 12 });
      const refresh = await test.stack.refresh();
      expect(refresh.summary.resourceChanges).toEqual({ same: 12 });
      await test.stack.preview({ expectNoChanges: true });
    });

    it("updates in place", async () => {
      await test.stack.setConfig("bridgeExtraAddresses[0]", { value: "10.9.0.1/24" }, true);
      const up = await test.stack.up();
      expect(up.summary.resourceChanges).toEqual({ update: 1, same: 11 });
      expect((await su.exec(["ip", "-json", "addr", "show", "dev", "br0"])).stdout).toContain(
        '"local":"10.9.0.1"',
      );
    });

    it("repairs drift: a namespace deleted out of band comes back", async () => {
      await su.exec(["ip", "netns", "del", "ns-green"]);
      const refresh = await test.stack.refresh();
      expect(refresh.summary.resourceChanges?.delete).toBeGreaterThan(0);
      const up = await test.stack.up();
      expect(up.summary.result).toBe("succeeded");
      await test.stack.preview({ expectNoChanges: true });
      expect(await namespaces(su)).toEqual(["ns-blue", "ns-green"]);
      expect(await ping("ns-blue", "10.0.0.2")).toBe(0);
    });

    it("destroys everything, leaving the target exactly as before", async () => {
      const destroy = await test.stack.destroy();
      expect(destroy.summary.result).toBe("succeeded");
      expect(destroy.summary.resourceChanges?.delete).toBeGreaterThan(0);
      expect(await snapshotHost(su)).toEqual(before);
      const logins = await logLinesSince(lab, su, mark, /Accepted/);
      for (const l of logins) expect(l).toContain(`for lnlab from ${jh.address} `);
    });
  });
});
