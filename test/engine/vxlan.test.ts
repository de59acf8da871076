/**
 * examples/vxlan with the real engine on lab hosts: three hosts joined into
 * one layer-2 segment, pings across every pair of hosts (the matrix goes to
 * the test log), no change on a second up or a refresh, a fourth host added
 * to the segment (only the other hosts' remotes update, nothing is replaced)
 * and removed again, and destroy leaving every host exactly as it was.
 */

import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EngineStack, openStack } from "../../lab/engine";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import { type HostSnapshot, snapshotHost } from "../support/snapshot";
import { ROOT, TEST_PASSPHRASE } from "./support";

const SITES = ["east", "west", "north", "south"] as const;
const NET = "10.40.0";

/** Per host: a bridge, a VXLAN device, two namespaces and two veth pairs. */
const PER_HOST = 6;

let lab: Lab;
let hosts: LabHost[];
let test: EngineStack;
const before = new Map<string, HostSnapshot>();

/** Sets the stack config to the first `n` hosts: their connections (a secret) and site names. */
async function configure(n: number): Promise<void> {
  const connections = hosts.slice(0, n).map((h) => ({
    host: h.address,
    privateKey: h.privateKey,
    hostKey: h.hostKey,
  }));
  await test.stack.setConfig("hosts", { value: JSON.stringify(connections), secret: true });
  // `sites` is a typed list in Pulumi.yaml: set element by element, after the old list goes.
  await test.stack.removeConfig("sites").catch(() => undefined);
  await test.stack.setAllConfig(
    Object.fromEntries(SITES.slice(0, n).map((site, i) => [`sites[${i}]`, { value: site }])),
    true,
  );
}

/** Pings, from each host's `-a` namespace, both namespaces of every other host; prints the matrix. */
async function pingMatrix(n: number): Promise<string[]> {
  const targets = SITES.slice(0, n).flatMap((site, i) => [
    { label: `${site}-a`, host: i, address: `${NET}.${10 * i + 1}` },
    { label: `${site}-b`, host: i, address: `${NET}.${10 * i + 2}` },
  ]);
  const failed: string[] = [];
  const rows: string[] = [];
  const width = 9;
  rows.push(["from \\ to".padEnd(width), ...targets.map((t) => t.label.padEnd(width))].join(" "));
  for (let i = 0; i < n; i++) {
    const cells: string[] = [];
    for (const t of targets) {
      if (t.host === i) {
        cells.push("·".padEnd(width));
        continue;
      }
      const r = await hosts[i]!.exec([
        "ip",
        "netns",
        "exec",
        `${SITES[i]}-a`,
        "ping",
        "-c",
        "1",
        "-w",
        "5",
        t.address,
      ]);
      const rtt = /time=([0-9.]+) ms/.exec(r.stdout)?.[1];
      cells.push((r.exitCode === 0 ? `ok ${rtt}ms` : "FAIL").padEnd(width));
      if (r.exitCode !== 0) failed.push(`${SITES[i]}-a -> ${t.label} (${t.address})`);
    }
    rows.push([`${SITES[i]}-a`.padEnd(width), ...cells].join(" "));
  }
  console.log(`ping matrix, ${n} hosts on VXLAN segment 42:\n${rows.join("\n")}`);
  return failed;
}

beforeAll(async () => {
  lab = await startLab({ id: "vxe", hosts: SITES.map((_, i) => ({ name: `h${i + 1}` })) });
  hosts = lab.hosts;
  for (const h of hosts) before.set(h.name, await snapshotHost(h));
  test = await openStack({
    workDir: path.join(ROOT, "examples", "vxlan"),
    name: "examples-vxlan",
    passphrase: TEST_PASSPHRASE,
    fresh: true,
  });
  await configure(3);
}, 120_000);

afterAll(async () => {
  await test?.stack.destroy().catch(() => undefined);
  await test?.dispose();
  await lab?.teardown();
});

describe("examples/vxlan on lab hosts", () => {
  it("joins three hosts into one segment, every check healthy", async () => {
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    // Three hosts' objects, six checks (each host to each other), and the stack.
    expect(up.summary.resourceChanges).toEqual({ create: 3 * PER_HOST + 6 + 1 });
    const connectivity = up.outputs.connectivity?.value as Record<string, string>;
    expect(Object.keys(connectivity).sort()).toHaveLength(6);
    for (const [pair, summary] of Object.entries(connectivity)) {
      expect(summary, pair).toMatch(/healthy/);
    }
    const segment = up.outputs.segment?.value as Record<
      string,
      { vxlan: { remotes: string[]; mtu: number } }
    >;
    expect(segment.east?.vxlan).toEqual({
      name: "vx-seg",
      remotes: [hosts[1]!.address, hosts[2]!.address],
      // The route to the first remote leaves by the fabric's eth0 (1500): less VXLAN's 50.
      mtu: 1450,
    });
  }, 300_000);

  it("carries a ping from each host to both namespaces of every other host", async () => {
    expect(await pingMatrix(3)).toEqual([]);
  }, 120_000);

  it("changes nothing on a second up or a refresh", async () => {
    await test.stack.preview({ expectNoChanges: true });
    const up = await test.stack.up();
    expect(up.summary.resourceChanges).toEqual({ same: 3 * PER_HOST + 6 + 1 });
    const refresh = await test.stack.refresh();
    expect(refresh.summary.resourceChanges).toEqual({ same: 3 * PER_HOST + 6 + 1 });
  }, 300_000);

  it("adds a fourth host: only the others' remotes update, nothing is replaced", async () => {
    await configure(4);
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    // Its objects and six new checks (to and from it); the three VXLAN devices gain a remote.
    expect(up.summary.resourceChanges).toEqual({
      create: PER_HOST + 6,
      update: 3,
      same: 3 * PER_HOST - 3 + 6 + 1,
    });
    const segment = up.outputs.segment?.value as Record<string, { vxlan: { remotes: string[] } }>;
    expect(segment.west?.vxlan.remotes).toEqual([
      hosts[0]!.address,
      hosts[2]!.address,
      hosts[3]!.address,
    ]);
    expect(await pingMatrix(4)).toEqual([]);
  }, 300_000);

  it("removes it again: the others' remotes update, and its host is as before", async () => {
    await configure(3);
    const up = await test.stack.up();
    expect(up.summary.resourceChanges).toEqual({
      delete: PER_HOST + 6,
      update: 3,
      same: 3 * PER_HOST - 3 + 6 + 1,
    });
    expect(await snapshotHost(hosts[3]!)).toEqual(before.get(hosts[3]!.name));
    expect(await pingMatrix(3)).toEqual([]);
  }, 300_000);

  it("destroys everything and leaves every host exactly as before", async () => {
    const destroy = await test.stack.destroy();
    expect(destroy.summary.resourceChanges).toEqual({ delete: 3 * PER_HOST + 6 + 1 });
    for (const h of hosts) expect(await snapshotHost(h), h.name).toEqual(before.get(h.name));
  }, 300_000);
});
