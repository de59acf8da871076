/**
 * Ways to reach a host that real deployments need, against real sshd on lab hosts:
 * password login, sudo that asks for a password (`sudoPassword`), a chain of two jump
 * hosts, and a host that is gone (deleted with its VM): refresh and delete fail within the
 * dial deadline naming the remedies, or, with `deleteUnreachable`, count its objects as
 * gone with a warning. No password ever shows in an error.
 */

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Lab, type LabHost, removeLabHost, startLab } from "../../lab/labhost";
import { TransportError } from "../../provider/errors";
import { closeAllSessions, hostFor, transportStats } from "../../provider/transport";
import { resolveConnection } from "../../provider/transport/connection";
import { requireRoot } from "../support/lab";
import { logMark, waitForLogLines } from "../support/sshd";
import { waitFor } from "../support/wait";
import { Driver, type LabContext, namespaces } from "./support";

const PASSWORD = "Tr0ub4dor-3";

let lab: Lab;
let pw: LabHost;
let nopw: LabHost;
let j1: LabHost;
let j2: LabHost;
let target: LabHost;

beforeAll(async () => {
  requireRoot("the host tier");
  lab = await startLab({
    id: "treach",
    hosts: [
      { name: "pw", sudoUser: true, password: PASSWORD, sudoAsksPassword: true },
      { name: "nopw", sudoUser: true },
      { name: "j1" },
      { name: "j2" },
      { name: "t" },
    ],
  });
  [pw, nopw, j1, j2, target] = ["pw", "nopw", "j1", "j2", "t"].map((n) => lab.host(n));
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

/** A context for the Driver: one host and the connection a program would give. */
function contextFor(h: LabHost, connection: Record<string, unknown>): LabContext {
  return { lab, h, connection, connectionsAtStart: transportStats.connections };
}

/** Runs one command over the package's transport and returns its output. */
async function runOver(connection: Record<string, unknown>, argv: string[]): Promise<string> {
  const resolved = resolveConnection(connection);
  expect(resolved.failures).toEqual([]);
  const r = await hostFor(resolved.connection!).run(argv);
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout;
}

describe("password login and sudo with a password", () => {
  const byPassword = () => ({
    host: pw.address,
    hostKey: pw.hostKey,
    user: pw.sudoUser,
    password: PASSWORD,
    sudoPassword: PASSWORD,
  });

  it("logs in with a password (no key) and runs as root through sudo -S", async () => {
    const mark = await logMark(lab, pw);
    expect(await runOver(byPassword(), ["id", "-u"])).toBe("0\n");
    await waitForLogLines(lab, pw, mark, /Accepted password for lnlab/, 1);
  });

  it("makes, refreshes and removes a namespace as that user", async () => {
    const driver = new Driver("Namespace", contextFor(pw, byPassword()));
    const res = await driver.create({ name: "reach-pw" });
    expect(await namespaces(pw)).toContain("reach-pw");
    await driver.expectNoDrift(res);
    await driver.delete(res);
    expect(await namespaces(pw)).not.toContain("reach-pw");
  });

  it("refuses a wrong sudo password once: sudo is asked one time, however many commands wait, and never again", async () => {
    await closeAllSessions();
    const wrong = "not-the-Password-42";
    const conn = { ...byPassword(), sudoPassword: wrong };
    const attempts = async () =>
      (
        (await pw.exec(["cat", "/run/linuxnet/sudo.log"])).stdout.match(
          /incorrect password attempt/g,
        ) ?? []
      ).length;
    const before = await attempts();
    const errors = await Promise.all(
      Array.from({ length: 6 }, () =>
        runOver(conn, ["true"]).then(
          () => new Error("ran"),
          (e: Error) => e,
        ),
      ),
    );
    for (const error of errors) {
      expect(error).toBeInstanceOf(TransportError);
      expect(error.message).toMatch(/sudo refused connection\.sudoPassword/);
      expect(error.message).not.toContain(wrong);
      expect(error.message).not.toContain(PASSWORD);
    }
    // A later session for the same connection fails at once, without asking sudo again.
    await closeAllSessions();
    const again = await runOver(conn, ["true"]).then(
      () => new Error("ran"),
      (e: Error) => e,
    );
    expect(again.message).toMatch(/sudo refused connection\.sudoPassword/);
    await waitFor(async () => ((await attempts()) === before + 1 ? true : undefined), {
      timeoutMs: 5_000,
      what: () => "sudo to log one failed attempt",
    });
    expect(await attempts()).toBe(before + 1);
  });

  it("without sudoPassword, says that sudo wants one and how to give it", async () => {
    await closeAllSessions();
    const { sudoPassword: _, ...noSudoPassword } = byPassword();
    const error = await runOver({ ...noSudoPassword, sudo: true }, ["true"]).then(
      () => new Error("ran"),
      (e: Error) => e,
    );
    expect(error.message).toMatch(/needs a password.*give connection\.sudoPassword/);
    expect(error.message).not.toContain(PASSWORD);
  });

  it("never writes the password where sudo does not ask for it (NOPASSWD)", async () => {
    await closeAllSessions();
    // A "password" that is a command: had it been written without sudo asking, the shell
    // sudo starts would have read it as its first line and run it.
    const leak = "/run/linuxnet/sudo-password-leaked";
    const conn = {
      host: nopw.address,
      hostKey: nopw.hostKey,
      privateKey: nopw.privateKey,
      user: nopw.sudoUser,
      sudoPassword: `touch ${leak}`,
    };
    expect(await runOver(conn, ["id", "-u"])).toBe("0\n");
    expect((await nopw.exec(["test", "-e", leak])).exitCode).toBe(1);
  });
});

describe("a chain of two jump hosts", () => {
  it("reaches the target through j1, then j2: the target sees j2 as the source", async () => {
    await closeAllSessions();
    const key = (h: LabHost) => ({ host: h.address, privateKey: h.privateKey, hostKey: h.hostKey });
    const chain = { ...key(target), proxy: { ...key(j2), proxy: key(j1) } };
    const marks = await Promise.all([j1, j2, target].map((h) => logMark(lab, h)));
    const seen = await runOver(chain, ["sh", "-c", 'echo "${SSH_CLIENT%% *}"']);
    expect(seen.trim()).toBe(j2.address);
    // Each hop's own log: j1 was dialled from this machine, j2 from j1, the target from j2.
    const [l1, l2, lt] = await Promise.all([
      waitForLogLines(lab, j1, marks[0]!, /Accepted publickey for root/, 1),
      waitForLogLines(lab, j2, marks[1]!, /Accepted publickey for root/, 1),
      waitForLogLines(lab, target, marks[2]!, /Accepted publickey for root/, 1),
    ]);
    expect(l1[0]).toContain(`from ${lab.gateway} `);
    expect(l2[0]).toContain(`from ${j1.address} `);
    expect(lt[0]).toContain(`from ${j2.address} `);
  });

  it("refuses a chain deeper than 8 jump hosts at check", () => {
    let conn: Record<string, unknown> = { host: "10.9.9.9" };
    for (let i = 0; i < 9; i++) conn = { host: `10.9.9.${i}`, proxy: conn };
    const { failures } = resolveConnection(conn);
    expect(failures).toEqual([
      { property: `connection${".proxy".repeat(9)}`, reason: "chains more than 8 jump hosts" },
    ]);
  });
});

describe("a host that is gone", () => {
  let gone: Lab;
  let vm: LabHost;
  let neighbour: LabHost;
  const DIAL_MS = 3_000;
  /** Time a refresh or delete may take beyond the dial deadline. */
  const MARGIN_MS = 5_000;

  beforeAll(async () => {
    gone = await startLab({ id: "treachg", hosts: [{ name: "vm" }, { name: "other" }] });
    vm = gone.host("vm");
    neighbour = gone.host("other");
  });
  afterAll(async () => {
    await gone?.teardown();
  });

  it("fails refresh and delete within the dial deadline, naming the host and the remedies; with deleteUnreachable counts the objects gone", async () => {
    const connection = {
      host: vm.address,
      privateKey: vm.privateKey,
      hostKey: vm.hostKey,
      dialTimeoutMs: DIAL_MS,
    };
    const driver = new Driver("Namespace", contextFor(vm, connection));
    const res = await driver.create({ name: "reach-gone" });
    await closeAllSessions();
    // The VM is deleted, out of band; its fabric stays, so no packet to its address leaves it.
    await removeLabHost(vm);
    expect((await neighbour.exec(["ping", "-c1", "-W1", vm.address])).exitCode).not.toBe(0);

    for (const operation of ["read", "delete"] as const) {
      const started = Date.now();
      const error = await (operation === "read" ? driver.read(res) : driver.delete(res)).then(
        () => new Error(`${operation} succeeded`),
        (e: Error) => e,
      );
      const took = Date.now() - started;
      console.log(`${operation} of a gone host: ${took} ms: ${error.message}`);
      expect(error.message).toContain(`ssh to ${vm.address}: not reachable within ${DIAL_MS} ms`);
      expect(error.message).toContain("deletedWith: vm");
      expect(error.message).toContain("connection.deleteUnreachable: true");
      expect(error.message).toContain("pulumi state delete");
      expect(took).toBeGreaterThanOrEqual(DIAL_MS - 500);
      expect(took).toBeLessThan(DIAL_MS + MARGIN_MS);
    }

    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const forgetting = {
        ...res,
        outs: { ...res.outs, connection: { ...connection, deleteUnreachable: true } },
      };
      expect(await driver.read(forgetting)).toBeUndefined();
      await driver.delete(forgetting);
      expect(warn).toHaveBeenCalledTimes(2);
      expect(String(warn.mock.calls[0]![0])).toMatch(
        /not reachable.*deleteUnreachable is set, so refresh counts .* as gone/,
      );
      expect(String(warn.mock.calls[1]![0])).toMatch(/so destroy counts .* as gone/);
    } finally {
      warn.mockRestore();
    }
  });
});
