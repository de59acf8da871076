/**
 * The transport against real sshd processes (lab hosts with stock `MaxSessions 10`),
 * through `hostFor` exactly as resources use it: one pooled connection per connection
 * key, commands streamed through a few long-lived shells, dial retries with backoff,
 * host-key pinning in both forms, sudo, a jump host, and what happens when a session
 * dies under it. Evidence comes from both sides: `transportStats` in this process, and
 * the host's own view (its sshd log, its process list), read out of band.
 *
 * Uses lab id "ttr1" only. Hosts: `h1` (root), `su` (the lab's sudo user `lnlab`), and
 * `pw` (also `lnlab`, but inside that one host sudo asks for a password: its private
 * mount namespace sees a sudoers drop-in without NOPASSWD bind-mounted over the lab's;
 * the machine's own sudoers file is never touched, and the mount dies with the host).
 */

import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { utils } from "ssh2";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Lab, type LabHost, LAB_SUDOERS_FILE, startLab } from "../../lab/labhost";
import { TransportError } from "../../provider/errors";
import { quoteArg } from "../../provider/shell/quote";
import { closeAllSessions, hostFor, transportStats } from "../../provider/transport";
import { type Connection, resolveConnection } from "../../provider/transport/connection";
import { requireRoot } from "../support/lab";
import { logLinesSince, logMark, sessionPids, waitForLogLines } from "../support/sshd";
import { waitFor } from "../support/wait";

/** A resolved connection, as the provider makes one from a resource's inputs. */
function conn(raw: Record<string, unknown>): Connection {
  const { connection, failures } = resolveConnection(raw);
  expect(failures).toEqual([]);
  return connection!;
}

/** The error a promise rejects with; fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a rejection, but it resolved");
}

/** How long `fn` took, in ms, with its settled result. */
async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: Error }> {
  const start = Date.now();
  try {
    const value = await fn();
    return { ms: Date.now() - start, value };
  } catch (e) {
    return { ms: Date.now() - start, error: e as Error };
  }
}

function stats() {
  return { ...transportStats };
}

function delta(before: typeof transportStats) {
  return {
    connections: transportStats.connections - before.connections,
    channels: transportStats.channels - before.channels,
    commands: transportStats.commands - before.commands,
  };
}

describe("the SSH transport against real sshd", () => {
  let lab: Lab;
  let h1: LabHost;
  let su: LabHost;
  let pw: LabHost;
  let tmp: string;

  /** Sends `signal` to every SSH session process of the host, by pid; sshd itself (PID 1) lives on. */
  async function signalSessions(h: LabHost, signal: "KILL" | "STOP"): Promise<number[]> {
    const pids = await sessionPids(h);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids).not.toContain(1);
    const r = await h.exec(["kill", `-${signal}`, ...pids.map(String)]);
    expect(r.exitCode, r.stderr).toBe(0);
    return pids;
  }

  const rootOn = (h: LabHost, extra: Record<string, unknown> = {}) => ({
    host: h.address,
    privateKey: h.privateKey,
    hostKey: h.hostKey,
    ...extra,
  });
  const sudoOn = (h: LabHost, extra: Record<string, unknown> = {}) =>
    rootOn(h, { user: h.sudoUser, sudo: true, ...extra });

  beforeAll(async () => {
    requireRoot("the host tier");
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "linuxnet-ttr1-"));
    lab = await startLab({
      id: "ttr1",
      hosts: [{ name: "h1" }, { name: "su", sudoUser: true }, { name: "pw", sudoUser: true }],
    });
    h1 = lab.host("h1");
    su = lab.host("su");
    pw = lab.host("pw");
    // Inside `pw` only: lnlab may sudo, but with a password (which it does not have).
    const sudoers = path.join(tmp, "sudoers-password");
    await fs.writeFile(sudoers, `${su.sudoUser} ALL=(ALL) ALL\n`, { mode: 0o440 });
    const bind = await pw.exec(["mount", "--bind", sudoers, LAB_SUDOERS_FILE]);
    expect(bind.exitCode, bind.stderr).toBe(0);
    expect((await pw.exec(["sudo", "-n", "-u", "lnlab", "sudo", "-n", "true"])).stderr).toMatch(
      /password is required/,
    );
  });

  afterEach(async () => {
    await closeAllSessions();
  });

  afterAll(async () => {
    await closeAllSessions();
    await lab?.teardown();
    if (tmp) await fs.rm(tmp, { recursive: true, force: true });
  });

  describe("one connection, a few shells", () => {
    it("runs 50 concurrent commands over one connection and at most 4 channels, none failing", async () => {
      const before = stats();
      const mark = await logMark(lab, h1);
      // Each command resolves its own connection, as each resource does; equal ones share a session.
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          i % 5 === 4
            ? hostFor(conn(rootOn(h1))).run(["cat"], { stdin: `line ${i}\nsecond ${i}` })
            : hostFor(conn(rootOn(h1))).run([
                "sh",
                "-c",
                `sleep 0.0${i % 4}; echo out-${i}; echo err-${i} >&2; exit ${i % 7}`,
              ]),
        ),
      );
      results.forEach((r, i) => {
        if (i % 5 === 4) {
          expect(r).toEqual({ stdout: `line ${i}\nsecond ${i}\n`, stderr: "", exitCode: 0 });
        } else {
          expect(r).toEqual({ stdout: `out-${i}\n`, stderr: `err-${i}\n`, exitCode: i % 7 });
        }
      });
      const d = delta(before);
      expect(d.connections).toBe(1);
      expect(d.channels).toBeGreaterThanOrEqual(1);
      expect(d.channels).toBeLessThanOrEqual(4);
      expect(d.commands).toBe(50);
      // The host's view: one login, one session process, and no "Channel open failure" anywhere.
      expect(await waitForLogLines(lab, h1, mark, /Accepted publickey for root/, 1)).toHaveLength(
        1,
      );
      expect(await sessionPids(h1)).toHaveLength(1);
      const shells = await h1.exec(["sh", "-c", "ps -eo args= | grep -c '^/bin/sh$'"]);
      expect(Number(shells.stdout.trim())).toBeLessThanOrEqual(4);
    });

    it("keeps 400 commands from 40 concurrent callers far below MaxSessions", async () => {
      const before = stats();
      const host = hostFor(conn(rootOn(h1)));
      const seen = await Promise.all(
        Array.from({ length: 40 }, async (_, caller) => {
          const outs: string[] = [];
          for (let n = 0; n < 10; n++) {
            outs.push((await host.runOk(["echo", `${caller}.${n}`])).stdout.trim());
          }
          return outs;
        }),
      );
      seen.forEach((outs, caller) =>
        expect(outs).toEqual(Array.from({ length: 10 }, (_, n) => `${caller}.${n}`)),
      );
      expect(delta(before)).toMatchObject({ connections: 1, commands: 400 });
      expect(delta(before).channels).toBeLessThanOrEqual(4);
    });
  });

  describe("host-key pinning", () => {
    it("connects when the pin matches, in the key-line and the SHA256: form", async () => {
      for (const hostKey of [h1.hostKey, h1.hostKeyFingerprint]) {
        const r = await hostFor(conn(rootOn(h1, { hostKey }))).runOk(["hostname", "-I"]);
        expect(r.stdout).toContain(h1.address);
      }
    });

    it.each([
      ["a key line", () => su.hostKey],
      ["a SHA256: fingerprint", () => su.hostKeyFingerprint],
    ])("refuses a wrong pin given as %s, showing both fingerprints, at once", async (_, pin) => {
      const before = stats();
      const mark = await logMark(lab, h1);
      const { ms, error } = await timed(() =>
        hostFor(conn(rootOn(h1, { hostKey: pin(), dialTimeoutMs: 20_000 }))).run(["true"]),
      );
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).level).toBe("host-key");
      // What the server offered and what was pinned, both as ssh-keygen -l prints them.
      expect(error!.message).toContain(h1.hostKeyFingerprint);
      expect(error!.message).toContain(su.hostKeyFingerprint);
      expect(error!.message).toContain(h1.address);
      expect(error!.message).toMatch(/refus/);
      // An answer, not a host still booting: no retries until the dial deadline.
      expect(ms).toBeLessThan(3_000);
      expect(delta(before).connections).toBe(0);
      expect(await logLinesSince(lab, h1, mark, /Accepted/)).toEqual([]);
    });

    it("never lets an unpinned session serve a pinned connection", async () => {
      // Open an unchecked session first; a wrongly pinned connection must still be refused.
      await hostFor(conn(rootOn(h1, { hostKey: undefined }))).runOk(["true"]);
      const error = await rejection(
        hostFor(conn(rootOn(h1, { hostKey: su.hostKeyFingerprint }))).run(["true"]),
      );
      expect((error as TransportError).level).toBe("host-key");
    });
  });

  describe("authentication", () => {
    it("fails fast on a wrong key, with one attempt even when 20 callers wait for it", async () => {
      const wrongKey = utils.generateKeyPairSync("ed25519").private;
      const mark = await logMark(lab, h1);
      const start = Date.now();
      const errors = await Promise.all(
        Array.from({ length: 20 }, () =>
          rejection(
            hostFor(conn(rootOn(h1, { privateKey: wrongKey, dialTimeoutMs: 20_000 }))).run([
              "true",
            ]),
          ),
        ),
      );
      const ms = Date.now() - start;
      // One connection attempt for all of them: sshd saw one refused login, and none dropped
      // for crowding (MaxStartups) as a storm of parallel attempts would be.
      expect(
        await waitForLogLines(
          lab,
          h1,
          mark,
          /Connection closed by authenticating user root|MaxStartups/,
          1,
        ),
      ).toHaveLength(1);
      for (const e of errors) {
        expect(e).toBeInstanceOf(TransportError);
        expect((e as TransportError).level).toBe("authentication");
        expect(e.message).toContain(h1.address);
        expect(e.message).toContain("root");
        expect(e.message).not.toContain(wrongKey.split("\n")[1]!);
      }
      // Refused is an answer: far below the 20 s dial deadline, and not retried.
      expect(ms).toBeLessThan(3_000);
      expect(await logLinesSince(lab, h1, mark, /Accepted/)).toEqual([]);
    });

    it("authenticates with a key held by a real ssh-agent, given as agentSocket", async () => {
      const dir = await fs.mkdtemp(path.join(os.tmpdir(), "linuxnet-agent-"));
      const socket = path.join(dir, "agent.sock");
      const agent = execFileSync("ssh-agent", ["-a", socket, "-s"], { encoding: "utf8" });
      const pid = /SSH_AGENT_PID=(\d+)/.exec(agent)?.[1];
      try {
        execFileSync("ssh-add", [h1.privateKeyPath], {
          env: { ...process.env, SSH_AUTH_SOCK: socket },
          stdio: "ignore",
        });
        const viaAgent = conn({ host: h1.address, hostKey: h1.hostKey, agentSocket: socket });
        const r = await hostFor(viaAgent).runOk(["id", "-u"]);
        expect(r.stdout.trim()).toBe("0");
      } finally {
        if (pid) process.kill(Number(pid));
        await fs.rm(dir, { recursive: true, force: true });
      }
    });

    it("tries again only when asked again, once per call", async () => {
      const wrongKey = utils.generateKeyPairSync("ed25519").private;
      const mark = await logMark(lab, h1);
      for (let i = 0; i < 3; i++) {
        const { ms, error } = await timed(() =>
          hostFor(conn(rootOn(h1, { privateKey: wrongKey }))).run(["true"]),
        );
        expect((error as TransportError).level).toBe("authentication");
        expect(ms).toBeLessThan(2_000);
      }
      expect(
        await waitForLogLines(lab, h1, mark, /Connection closed by authenticating user root/, 3),
      ).toHaveLength(3);
    });
  });

  describe("dialling a host that is not up", () => {
    it("retries a refused dial until sshd answers", async () => {
      // A second sshd on port 2222 of h1, started 3 s from now: a host still booting.
      const config = (await fs.readFile(path.join(lab.stateDir, "h1", "sshd_config"), "utf8"))
        .replace(/^Port 22$/m, "Port 2222")
        .replace(/^PidFile .*$/m, `PidFile ${path.join(tmp, "late-sshd.pid")}`);
      const configPath = path.join(tmp, "late-sshd_config");
      await fs.writeFile(configPath, config);
      const late = h1.exec([
        "sh",
        "-c",
        `sleep 3 && exec /usr/sbin/sshd -f ${quoteArg(configPath)}`,
      ]);
      try {
        const before = stats();
        const { ms, value, error } = await timed(() =>
          hostFor(conn(rootOn(h1, { port: 2222, dialTimeoutMs: 15_000 }))).runOk(["echo", "up"]),
        );
        expect(error).toBeUndefined();
        expect(value!.stdout).toBe("up\n");
        expect(ms).toBeGreaterThanOrEqual(2_500);
        expect(ms).toBeLessThan(8_000);
        expect(delta(before).connections).toBe(1);
      } finally {
        expect((await late).exitCode).toBe(0);
        await closeAllSessions();
        const pid = (await fs.readFile(path.join(tmp, "late-sshd.pid"), "utf8")).trim();
        await h1.exec(["kill", pid]);
      }
    });

    it("retries dials reset before the SSH handshake, without an uncaught error", async () => {
      // A booting VM behind a port forward: TCP is accepted, then reset, until sshd is up.
      // Here, a forwarder on this machine resets the first three dials, then forwards to h1.
      let dials = 0;
      const forwarder = net.createServer((client) => {
        client.on("error", () => undefined);
        if (dials++ < 3) {
          client.once("data", () => client.resetAndDestroy());
          return;
        }
        const upstream = net.connect(h1.port, h1.address);
        upstream.on("error", () => client.destroy());
        client.on("close", () => upstream.destroy());
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((r) => forwarder.listen(0, "127.0.0.1", r));
      const uncaught: Error[] = [];
      const onUncaught = (e: Error) => uncaught.push(e);
      process.on("uncaughtException", onUncaught);
      try {
        const port = (forwarder.address() as net.AddressInfo).port;
        const { value, error } = await timed(() =>
          hostFor(conn(rootOn(h1, { host: "127.0.0.1", port, dialTimeoutMs: 15_000 }))).runOk([
            "echo",
            "through",
          ]),
        );
        expect(error).toBeUndefined();
        expect(value!.stdout).toBe("through\n");
        expect(dials).toBeGreaterThanOrEqual(4);
        // Not a wait for something: nothing signals that an error did NOT happen, so a late
        // one from a reset dial gets a grace period before the check.
        await new Promise((r) => setTimeout(r, 200));
        expect(uncaught.map((e) => e.message)).toEqual([]);
      } finally {
        process.off("uncaughtException", onUncaught);
        await closeAllSessions();
        forwarder.close();
      }
    });

    it("gives up at the dial deadline with a timeout that names the host", async () => {
      const { ms, error } = await timed(() =>
        hostFor(conn(rootOn(h1, { port: 2223, dialTimeoutMs: 5_000 }))).run(["true"]),
      );
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).level).toBe("timeout");
      expect(error!.message).toContain(`${h1.address}:2223`);
      expect(error!.message).toContain("5000 ms");
      // Backoff ends within one pause (at most 2 s) of the deadline, never after it.
      expect(ms).toBeGreaterThanOrEqual(3_000);
      expect(ms).toBeLessThan(6_000);
    });
  });

  describe("sudo", () => {
    it("runs commands as root through sudo -n for a non-root user", async () => {
      const host = hostFor(conn(sudoOn(su)));
      expect((await host.runOk(["id", "-u"])).stdout.trim()).toBe("0");
      expect((await host.runOk(["cat"], { stdin: "through sudo\n" })).stdout).toBe(
        "through sudo\n",
      );
      await host.runOk(["ip", "netns", "add", "ttr-sudo"]);
      expect((await su.exec(["ip", "netns", "list"])).stdout).toContain("ttr-sudo");
      await host.runOk(["ip", "netns", "delete", "ttr-sudo"]);
      expect((await su.exec(["ip", "netns", "list"])).stdout).not.toContain("ttr-sudo");
      // The same user without sudo is not root: sudo is what elevates.
      const plain = hostFor(conn(sudoOn(su, { sudo: false })));
      expect((await plain.runOk(["id", "-u"])).stdout.trim()).not.toBe("0");
    });

    it("says clearly that sudo needs a password, for every waiting command, without hanging", async () => {
      const start = Date.now();
      const errors = await Promise.all(
        Array.from({ length: 10 }, () => rejection(hostFor(conn(sudoOn(pw))).run(["id", "-u"]))),
      );
      expect(Date.now() - start).toBeLessThan(5_000);
      for (const e of errors) {
        expect(e).toBeInstanceOf(TransportError);
        expect((e as TransportError).level).toBe("sudo");
        expect(e.message).toContain(pw.address);
        expect(e.message).toContain("sudo -n");
        expect(e.message).toContain("lnlab");
        expect(e.message).toMatch(/password/);
      }
      // Asked again, the same answer (not a framing error from a dead shell).
      const again = await rejection(hostFor(conn(sudoOn(pw))).run(["true"]));
      expect((again as TransportError).level).toBe("sudo");
    });
  });

  describe("a jump host", () => {
    it("reaches the target through the jump host, as the sudo user", async () => {
      const before = stats();
      const mark = await logMark(lab, su);
      const host = hostFor(conn(sudoOn(su, { proxy: rootOn(h1) })));
      expect((await host.runOk(["id", "-u"])).stdout.trim()).toBe("0");
      expect((await host.runOk(["hostname", "-I"])).stdout).toContain(su.address);
      // The target saw the login come from the jump host, not from this machine.
      expect(await waitForLogLines(lab, su, mark, /Accepted publickey/, 1)).toEqual([
        expect.stringContaining(`for lnlab from ${h1.address} `),
      ]);
      expect(delta(before).connections).toBe(2); // the jump host, and the target through it
    });

    it("refuses a wrong pin on the jump host and on the target, naming which", async () => {
      const onJump = await rejection(
        hostFor(conn(sudoOn(su, { proxy: rootOn(h1, { hostKey: su.hostKey }) }))).run(["true"]),
      );
      expect((onJump as TransportError).level).toBe("host-key");
      expect(onJump.message).toContain(h1.address);
      expect(onJump.message).toContain(h1.hostKeyFingerprint);
      const onTarget = await rejection(
        hostFor(conn(sudoOn(su, { hostKey: h1.hostKey, proxy: rootOn(h1) }))).run(["true"]),
      );
      expect((onTarget as TransportError).level).toBe("host-key");
      expect(onTarget.message).toContain(su.address);
      expect(onTarget.message).toContain(su.hostKeyFingerprint);
    });

    it("reconnects through the jump host after the jump session was killed", async () => {
      const host = hostFor(conn(sudoOn(su, { proxy: rootOn(h1) })));
      await host.runOk(["true"]);
      await signalSessions(h1, "KILL");
      await waitFor(async () => (await sessionPids(su)).length === 0, {
        timeoutMs: 5_000,
        what: "the target's session to end with the jump host's",
      });
      const before = stats();
      expect((await host.runOk(["echo", "again"])).stdout).toBe("again\n");
      expect(delta(before).connections).toBe(2);
    });
  });

  describe("a session that dies", () => {
    it("reconnects once for the next command after the session was killed between commands", async () => {
      const host = hostFor(conn(rootOn(h1)));
      await host.runOk(["true"]);
      const killed = await signalSessions(h1, "KILL");
      await waitFor(async () => (await sessionPids(h1)).every((p) => !killed.includes(p)), {
        timeoutMs: 5_000,
        what: `the killed session processes ${killed.join(", ")} to be gone`,
      });
      const before = stats();
      expect((await host.runOk(["echo", "back"])).stdout).toBe("back\n");
      expect((await host.runOk(["echo", "still"])).stdout).toBe("still\n");
      expect(delta(before).connections).toBe(1);
    });

    it("fails the command in flight with a TransportError naming the host, then reconnects", async () => {
      const host = hostFor(conn(rootOn(h1)));
      await host.runOk(["true"]);
      const inFlight = rejection(host.run(["sleep", "10"]));
      await waitFor(async () => (await h1.exec(["pgrep", "-x", "sleep"])).exitCode === 0, {
        timeoutMs: 5_000,
        what: "the command in flight (sleep 10) to run on the host",
      });
      const start = Date.now();
      await signalSessions(h1, "KILL");
      const error = await inFlight;
      expect(Date.now() - start).toBeLessThan(3_000);
      expect(error).toBeInstanceOf(TransportError);
      expect((error as TransportError).level).toBe("protocol");
      expect(error.message).toContain(h1.address);
      const before = stats();
      expect((await host.runOk(["echo", "back"])).stdout).toBe("back\n");
      expect(delta(before).connections).toBe(1);
    });

    it("settles every command of 32 busy callers when the session is killed, then serves them again", async () => {
      // As a deployment at parallelism 32 does: more callers than shells, so commands wait in
      // the queue as well as run in the shells when the connection drops.
      const host = hostFor(conn(rootOn(h1)));
      await host.runOk(["true"]);
      const pending = new Set<number>();
      const errors: Error[] = [];
      let next = 0;
      let answered = 0;
      let stop = false;
      let settled = false;
      const callers = Array.from({ length: 32 }, async () => {
        while (!stop) {
          const id = next++;
          pending.add(id);
          try {
            expect((await host.runOk(["sh", "-c", "sleep 0.01; echo ok"])).stdout).toBe("ok\n");
            answered++;
          } catch (e) {
            errors.push(e as Error);
          }
          pending.delete(id);
        }
      });
      const all = Promise.all(callers).then(() => (settled = true));
      // Busy: twice as many commands answered as callers, and more running and queued.
      await waitFor(() => answered >= 64, { timeoutMs: 10_000, what: "64 commands answered" });
      await signalSessions(h1, "KILL");
      await waitFor(() => errors.length > 0, {
        timeoutMs: 5_000,
        what: "a command to fail after the session was killed",
      });
      stop = true;
      await waitFor(() => settled, {
        timeoutMs: 10_000,
        what: () => `the ${pending.size} commands left to settle after the session was killed`,
      });
      await all;
      // What was in flight or queued fails, clearly; the callers' next commands reconnect.
      expect(errors.length).toBeGreaterThan(0);
      for (const e of errors) {
        expect(e).toBeInstanceOf(TransportError);
        expect(e.message).toContain(h1.address);
      }
      expect((await host.runOk(["echo", "back"])).stdout).toBe("back\n");
    });

    it("detects a frozen connection by keepalive, fails the command clearly, then reconnects", async () => {
      const host = hostFor(conn(rootOn(h1)));
      await host.runOk(["true"]);
      // The session process stops answering but its TCP connection stays open: only keepalive can tell.
      const frozen = await signalSessions(h1, "STOP");
      try {
        const { ms, error } = await timed(() => host.run(["echo", "into the void"]));
        expect(error).toBeInstanceOf(TransportError);
        expect(error!.message).toContain(h1.address);
        // ssh2 keepalive: every 5 s, dead after 3 unanswered.
        expect(ms).toBeLessThan(30_000);
      } finally {
        await h1.exec(["kill", "-KILL", ...frozen.map(String)]);
      }
      const before = stats();
      expect((await host.runOk(["echo", "back"])).stdout).toBe("back\n");
      expect(delta(before).connections).toBe(1);
    }, 60_000);
  });
});
