/**
 * A host whose shells talk: root's and the sudo user's `.bashrc`, `/etc/bash.bashrc` and
 * `/etc/profile` print a greeting on both streams, and sshd sends a `Banner`, as on many
 * real machines (bash sources `~/.bashrc` even for commands run over ssh). The whole
 * lifecycle of a small network, its refresh (the batched host read) and the doctor's
 * ConnectivityCheck work as on a quiet host, as root and as a sudo user.
 */

import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Lab, LAB_SUDO_USER, startLab } from "../../lab/labhost";
import { closeAllSessions, transportStats } from "../../provider/transport";
import { requireRoot } from "../support/lab";
import { snapshotHost } from "../support/snapshot";
import { Driver, type LabContext, type Managed, inNs, oob } from "./support";

/** What every startup file prints: text on stdout without a final newline, and a line on stderr. */
const GREETING =
  'echo "Welcome back, $(id -un)!"; printf "Last login: never"; echo "motd: hi" >&2\n';
const BANNER = "Authorized use only.\nAll activity is logged.\n";

let lab: Lab;
let tmp: string;

beforeAll(async () => {
  requireRoot("the host tier");
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "linuxnet-ttalk-"));
  lab = await startLab({ id: "ttalk", hosts: [{ name: "h1", sudoUser: true, banner: BANNER }] });
  const h = lab.host("h1");
  const talkative = path.join(tmp, "talkative.sh");
  await fs.writeFile(talkative, GREETING, { mode: 0o644 });
  // Bound over the files inside the lab host's own mount namespace only: the machine's stay as they are.
  for (const file of [
    "/root/.bashrc",
    `/home/${LAB_SUDO_USER}/.bashrc`,
    "/etc/bash.bashrc",
    "/etc/profile",
  ]) {
    const bind = await h.exec(["mount", "--bind", talkative, file]);
    expect(bind.exitCode, `${file}: ${bind.stderr}`).toBe(0);
  }
});

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

it("the host really greets a command run over ssh, on both streams (the condition under test)", async () => {
  const h = lab.host("h1");
  const key = path.join(tmp, "id");
  await fs.writeFile(key, h.privateKey, { mode: 0o600 });
  // OpenSSH's own client, as a user would run it: the greeting and the banner come with the output.
  const { execa } = await import("execa");
  const ssh = await execa(
    "ssh",
    [
      ...["-i", key, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"],
      ...["-o", "BatchMode=yes", `root@${h.address}`, "echo", "out"],
    ],
    { reject: false },
  );
  expect(ssh.exitCode, ssh.stderr).toBe(0);
  // Greeted twice (/etc/bash.bashrc, then ~/.bashrc), the last without a newline before the output.
  expect(ssh.stdout).toBe(
    "Welcome back, root!\nLast login: neverWelcome back, root!\nLast login: neverout",
  );
  expect(ssh.stderr).toContain("motd: hi");
  expect(ssh.stderr).toContain("Authorized use only.");
});

describe.each([
  { who: "root", sudo: false },
  { who: "a sudo user", sudo: true },
])("as $who", ({ sudo }) => {
  const ctx = {} as LabContext;
  const ns = sudo ? "talk-su" : "talk-root";
  const bridge = sudo ? "br-tsu" : "br-troot";
  const subnet = sudo ? "10.77.2" : "10.77.1";
  const made: Array<{ driver: Driver; res: Managed }> = [];
  let before: Awaited<ReturnType<typeof snapshotHost>>;

  beforeAll(async () => {
    const h = lab.host("h1");
    ctx.lab = lab;
    ctx.h = h;
    ctx.connection = {
      host: h.address,
      privateKey: h.privateKey,
      hostKey: h.hostKey,
      ...(sudo ? { user: h.sudoUser, sudo: true } : {}),
    };
    ctx.connectionsAtStart = transportStats.connections;
    before = await snapshotHost(h);
  });

  // Each step on a new connection, as each `pulumi` command is a new provider process: the
  // greeting then comes before the first command of every step (a pooled shell hides it).
  beforeEach(async () => {
    await closeAllSessions();
  });

  const create = async (
    kind: ConstructorParameters<typeof Driver>[0],
    args: Record<string, unknown>,
  ) => {
    const driver = new Driver(kind, ctx);
    const res = await driver.create(args);
    made.push({ driver, res });
    return res;
  };

  it("creates a namespace, a bridge, a veth, a route and a NAT rule", async () => {
    await create("Namespace", { name: ns });
    await create("Bridge", { name: bridge, addresses: [`${subnet}.254/24`] });
    await create("VethPair", {
      a: { name: `${ns}-a`.slice(0, 15), namespace: ns, addresses: [`${subnet}.1/24`] },
      b: { name: `${ns}-b`.slice(0, 15), bridge },
    });
    await create("Route", { namespace: ns, destination: "default", via: `${subnet}.254` });
    await create("NatRule", { source: `${subnet}.0/24`, outInterface: "eth0" });
    // Out of band: the host has them, exactly as on a quiet host.
    expect(await oob(ctx.h, inNs(ns, ["ip", "-4", "-o", "addr", "show"]))).toContain(
      `${subnet}.1/24`,
    );
  });

  it("refreshes every resource with no drift (the batched host read parses through the greeting)", async () => {
    for (const { driver, res } of made) await driver.expectNoDrift(res);
  });

  it("runs the doctor: the namespace reaches its gateway", async () => {
    const check = await create("ConnectivityCheck", {
      from: { namespace: ns },
      to: { address: `${subnet}.254` },
    });
    expect(check.outs.healthy, String(check.outs.summary)).toBe(true);
    await made.at(-1)!.driver.expectNoDrift(check);
  });

  it("deletes everything, leaving the host as it was", async () => {
    for (const { driver, res } of made.reverse()) await driver.delete(res);
    expect(await snapshotHost(ctx.h)).toEqual(before);
  });
});
