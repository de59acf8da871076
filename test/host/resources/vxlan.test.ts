/**
 * Vxlan on two real lab hosts over real SSH, driven through the dynamic
 * provider: create, read, update (remotes, MTU), drift (a forwarding entry
 * or the device deleted out of band), delete twice, and a ping between
 * namespaces on the two hosts through one VXLAN segment.
 */

import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type Lab, type LabHost, startLab } from "../../../lab/labhost";
import { closeAllSessions, hostFor, transportStats } from "../../../provider/transport";
import { resolveConnection } from "../../../provider/transport/connection";
import { diagnose } from "../../../provider/doctor";
import { requireRoot } from "../../support/lab";
import { type HostSnapshot, snapshotHost } from "../../support/snapshot";
import {
  Driver,
  type LabContext,
  type Managed,
  addNamespace,
  expectUserError,
  ipIn,
  link,
  linkState,
  oob,
  oobAll,
  oobResult,
  removeNamespace,
} from "../support";

const ctx1 = {} as LabContext;
const ctx2 = {} as LabContext;
let lab: Lab;
let before1: HostSnapshot;
let before2: HostSnapshot;

beforeAll(async () => {
  requireRoot("the host tier");
  lab = await startLab({ id: "vxh", hosts: [{ name: "h1" }, { name: "h2" }] });
  for (const [ctx, name] of [
    [ctx1, "h1"],
    [ctx2, "h2"],
  ] as const) {
    ctx.lab = lab;
    ctx.h = lab.host(name);
    ctx.connection = { host: ctx.h.address, privateKey: ctx.h.privateKey, hostKey: ctx.h.hostKey };
    ctx.connectionsAtStart = transportStats.connections;
  }
  before1 = await snapshotHost(ctx1.h);
  before2 = await snapshotHost(ctx2.h);
}, 60_000);

afterAll(async () => {
  await closeAllSessions();
  await lab?.teardown();
});

const vxlan = (ctx: LabContext = ctx1) => new Driver("Vxlan", ctx);

/** The remotes of a VXLAN device, seen out of band: its own all-zero forwarding entries. */
async function remotes(h: LabHost, ns: string | undefined, dev: string): Promise<string[]> {
  const out = await oob(h, [
    ...(ns ? ["bridge", "-n", ns] : ["bridge"]),
    "-json",
    "fdb",
    "show",
    "dev",
    dev,
  ]);
  const entries = (out.trim() ? JSON.parse(out) : []) as {
    mac: string;
    dst?: string;
    master?: string;
  }[];
  return entries
    .filter((e) => e.mac === "00:00:00:00:00:00" && e.dst && !e.master)
    .map((e) => e.dst!);
}

/** The VXLAN device as the host has it, out of band. */
async function onHost(h: LabHost, ns: string | undefined, name: string) {
  const seen = await linkState(h, ns, name);
  if (!seen) return undefined;
  const details = (await link(h, ns, name)) as unknown as {
    linkinfo?: { info_data?: Record<string, unknown> };
  };
  const data = details.linkinfo?.info_data ?? {};
  return {
    ...seen,
    vni: data.id,
    port: data.port,
    local: data.local,
    device: data.link,
    remotes: await remotes(h, ns, name),
  };
}

describe("Vxlan", () => {
  let res: Managed | undefined;
  afterEach(async () => {
    if (res) await vxlan().delete(res);
    res = undefined;
  });

  it("creates a device with its remotes as forwarding entries, reads it back unchanged and deletes it", async () => {
    const d = vxlan();
    const peer = ctx2.h.address;
    res = await d.create({
      name: "vx0",
      vni: 42,
      remotes: [peer, "10.213.99.9"],
      local: ctx1.h.address,
      device: "eth0",
      addresses: ["10.77.0.1/24"],
    });
    expect(res.id).toBe("/vx0");
    expect(await onHost(ctx1.h, undefined, "vx0")).toEqual({
      kind: "vxlan",
      up: true,
      // The kernel derives it from eth0 (1500) less the 50 bytes of encapsulation.
      mtu: 1450,
      master: undefined,
      addresses: ["10.77.0.1/24"],
      vni: 42,
      port: 4789,
      local: ctx1.h.address,
      device: "eth0",
      remotes: [peer, "10.213.99.9"],
    });
    expect(res.outs.effectiveMtu).toBe(1450);
    await d.expectNoDrift(res);

    await d.delete(res);
    expect(await onHost(ctx1.h, undefined, "vx0")).toBeUndefined();
    await d.delete(res);
    res = undefined;
    expect(await onHost(ctx1.h, undefined, "vx0")).toBeUndefined();
  });

  it("derives the MTU from the route to the first remote when no device is given", async () => {
    res = await vxlan().create({ name: "vx1", vni: 43, remotes: [ctx2.h.address] });
    // The route to h2 leaves by eth0 (1500).
    expect((await onHost(ctx1.h, undefined, "vx1"))?.mtu).toBe(1450);
    await vxlan().delete(res);
    // A route with an MTU of its own (a path known to be narrower) counts.
    const route = [`${ctx2.h.address}/32`, "dev", "eth0", "mtu", "1400"];
    await oob(ctx1.h, ["ip", "route", "add", ...route]);
    try {
      res = await vxlan().create({ name: "vx1", vni: 43, remotes: [ctx2.h.address] });
      expect((await onHost(ctx1.h, undefined, "vx1"))?.mtu).toBe(1350);
      expect(res.outs.effectiveMtu).toBe(1350);
    } finally {
      await oob(ctx1.h, ["ip", "route", "del", ...route]);
    }
  });

  it("adds and removes a remote, and changes the MTU, in place", async () => {
    const d = vxlan();
    res = await d.create({ name: "vx2", vni: 44, remotes: ["10.213.99.1", "10.213.99.2"] });
    res = await d.update(res, { name: "vx2", vni: 44, remotes: ["10.213.99.2", "10.213.99.3"] });
    expect(await remotes(ctx1.h, undefined, "vx2")).toEqual(["10.213.99.2", "10.213.99.3"]);
    res = await d.update(res, {
      name: "vx2",
      vni: 44,
      remotes: ["10.213.99.2", "10.213.99.3"],
      mtu: 1300,
    });
    expect((await onHost(ctx1.h, undefined, "vx2"))?.mtu).toBe(1300);
    expect(res.outs.effectiveMtu).toBe(1300);
    await d.expectNoDrift(res);
    // A new VNI cannot be set on a device: it replaces it, deleting first (the name stays).
    expect(await d.diff(res, { name: "vx2", vni: 45, remotes: [] })).toMatchObject({
      changes: true,
      replaces: ["vni"],
      deleteBeforeReplace: true,
    });
  });

  it("reports a forwarding entry deleted out of band as drift, which the next update repairs", async () => {
    const d = vxlan();
    const args = { name: "vx3", vni: 46, remotes: ["10.213.99.1", "10.213.99.2"] };
    res = await d.create(args);
    await oob(ctx1.h, [
      "bridge",
      "fdb",
      "del",
      "00:00:00:00:00:00",
      "dev",
      "vx3",
      "dst",
      "10.213.99.1",
    ]);
    const props = await d.read(res);
    expect(props?.remotes).toEqual(["10.213.99.2"]);
    const refreshed = { ...res, outs: props! };
    const diff = await d.diff(refreshed, args);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    res = await d.update(refreshed, args);
    expect(await remotes(ctx1.h, undefined, "vx3")).toEqual(["10.213.99.2", "10.213.99.1"]);
  });

  it("reports the device deleted out of band as gone, and a deleted underlay takes it too", async () => {
    const d = vxlan();
    res = await d.create({ name: "vx4", vni: 47, remotes: ["10.213.99.1"] });
    await oob(ctx1.h, ["ip", "link", "del", "dev", "vx4"]);
    expect(await d.read(res)).toBeUndefined();
    await d.delete(res);

    // On a device of its own: deleting the underlay deletes the VXLAN device with it.
    await oobAll(ctx1.h, [
      ["ip", "link", "add", "ul0", "type", "veth", "peer", "name", "ul0p"],
      ["ip", "link", "set", "ul0", "up"],
    ]);
    res = await d.create({ name: "vx4", vni: 47, remotes: ["10.213.99.1"], device: "ul0" });
    await oob(ctx1.h, ["ip", "link", "del", "dev", "ul0"]);
    expect(await d.read(res)).toBeUndefined();
  });

  it("lives in a namespace, as a port of a bridge there", async () => {
    const NS = "vx-ns";
    await addNamespace(ctx1.h, NS);
    try {
      await oob(ctx1.h, ipIn(NS, "link", "add", "br-vx", "type", "bridge"));
      const d = vxlan();
      res = await d.create({
        name: "vx5",
        vni: 48,
        namespace: NS,
        bridge: "br-vx",
        remotes: ["10.213.99.1"],
      });
      expect(res.id).toBe(`${NS}/vx5`);
      const seen = await onHost(ctx1.h, NS, "vx5");
      expect(seen).toMatchObject({ kind: "vxlan", master: "br-vx", remotes: ["10.213.99.1"] });
      // No route to the remote in the namespace: 1450, as for an unknown underlay.
      expect(seen?.mtu).toBe(1450);
      await d.expectNoDrift(res);
      res = await d.update(res, {
        name: "vx5",
        vni: 48,
        namespace: NS,
        remotes: ["10.213.99.1"],
      });
      expect((await onHost(ctx1.h, NS, "vx5"))?.master).toBeUndefined();
    } finally {
      if (res) await vxlan().delete(res);
      res = undefined;
      await removeNamespace(ctx1.h, NS);
    }
  });

  it("refuses a name taken by another link, saying so, and leaves nothing behind", async () => {
    await oob(ctx1.h, ["ip", "link", "add", "vx6", "type", "bridge"]);
    try {
      const error = await vxlan().createFails({ name: "vx6", vni: 49 });
      expectUserError(error, ctx1.h, /ip link add name vx6 .*type vxlan id 49/, /File exists/);
      expect(error.message).toContain("is not a vxlan");
    } finally {
      await oob(ctx1.h, ["ip", "link", "del", "vx6"]);
    }
  });

  it("renames a device by deleting the old one first: the kernel holds a VNI on a port once", async () => {
    const d = vxlan();
    const args = { vni: 50, remotes: [ctx2.h.address] };
    res = await d.create({ name: "vx7", ...args });
    // Made first, the new device is refused: the reason the rename deletes first.
    const refused = await d.createFails({ name: "vx8", ...args });
    expect(refused.message).toMatch(/VNI already exists|File exists/);
    expect(await onHost(ctx1.h, undefined, "vx8")).toBeUndefined();

    const inputs = await d.check({ name: "vx8", ...args }, res.inputs);
    const diff = await d.provider.diff!(res.id, res.outs, inputs);
    expect(diff.replaces).toEqual(["name"]);
    expect(diff.deleteBeforeReplace).toBe(true);
    // What the engine does for that diff: the old device goes, then the new one comes.
    await d.delete(res);
    res = undefined;
    const made = await d.provider.create(inputs);
    res = { id: made.id, inputs, outs: made.outs as Record<string, unknown> };
    expect(res.id).toBe("/vx8");
    expect(await onHost(ctx1.h, undefined, "vx8")).toMatchObject({
      vni: 50,
      remotes: args.remotes,
    });
    expect(await onHost(ctx1.h, undefined, "vx7")).toBeUndefined();
  });

  it("carries a ping between namespaces on two hosts through one segment", async () => {
    const NS = "vx-ping";
    const setUp = async (h: LabHost, address: string) => {
      await addNamespace(h, NS);
      await oobAll(h, [
        ["ip", "link", "add", "br-vx", "type", "bridge"],
        ["ip", "link", "set", "br-vx", "up"],
        ["ip", "link", "add", "vxp", "type", "veth", "peer", "name", "eth0", "netns", NS],
        ["ip", "link", "set", "vxp", "master", "br-vx"],
        ["ip", "link", "set", "vxp", "up"],
        ipIn(NS, "addr", "add", address, "dev", "eth0"),
        ipIn(NS, "link", "set", "eth0", "up"),
      ]);
    };
    const tearDown = async (h: LabHost) => {
      await removeNamespace(h, NS);
      await oobResult(h, ["ip", "link", "del", "br-vx"]);
    };
    const made: [Driver, Managed][] = [];
    try {
      await setUp(ctx1.h, "10.77.1.1/24");
      await setUp(ctx2.h, "10.77.1.2/24");
      for (const [ctx, peer] of [
        [ctx1, ctx2.h.address],
        [ctx2, ctx1.h.address],
      ] as const) {
        const d = vxlan(ctx);
        made.push([
          d,
          await d.create({
            name: "vx-seg",
            vni: 4242,
            remotes: [peer],
            local: ctx.h.address,
            device: "eth0",
            bridge: "br-vx",
          }),
        ]);
      }
      const ping = await oobResult(ctx1.h, [
        "ip",
        "netns",
        "exec",
        NS,
        "ping",
        "-c",
        "3",
        "-i",
        "0.2",
        "-W",
        "2",
        "10.77.1.2",
      ]);
      expect(ping.exitCode, ping.stdout + ping.stderr).toBe(0);
      console.log(`ping h1/${NS} -> h2/${NS} through VXLAN 4242:\n${ping.stdout.trim()}`);
      // The frames came from the remote: the learned entry of h2's end points at h2.
      const fdb = JSON.parse(
        await oob(ctx1.h, ["bridge", "-json", "fdb", "show", "dev", "vx-seg"]),
      ) as { mac: string; dst?: string }[];
      expect(fdb.some((e) => e.mac !== "00:00:00:00:00:00" && e.dst === ctx2.h.address)).toBe(true);
      for (const [d, m] of made) await d.expectNoDrift(m);

      // The doctor follows the path into the VXLAN device and names the remote the frame goes to.
      const { connection } = resolveConnection(ctx1.connection);
      const doctorHost = hostFor(connection!);
      const request = { from: { namespace: NS }, to: { address: "10.77.1.2" } };
      const healthy = await diagnose(doctorHost, request);
      expect(healthy.healthy, JSON.stringify(healthy.checks, null, 1)).toBe(true);
      expect(healthy.checks.find((c) => c.id === "vxlan.fdb")).toMatchObject({
        status: "ok",
        title: expect.stringContaining(`to the remote ${ctx2.h.address}`),
      });
      expect(healthy.path.at(-1)?.note).toBe(`leaves the host through VXLAN to ${ctx2.h.address}`);
      // With the remote's entries gone (the all-zero one and the learned one), nothing matches.
      for (const e of fdb.filter((f) => f.dst)) {
        await oob(ctx1.h, ["bridge", "fdb", "del", e.mac, "dev", "vx-seg", "dst", e.dst!]);
      }
      const broken = await diagnose(doctorHost, { ...request, noProbe: true });
      expect(broken.firstFailure).toMatchObject({ id: "vxlan.fdb", status: "fail" });
      expect(broken.firstFailure?.fix).toContain("bridge fdb append 00:00:00:00:00:00 dev vx-seg");
    } finally {
      for (const [d, m] of made) await d.delete(m);
      await tearDown(ctx1.h);
      await tearDown(ctx2.h);
    }
  });

  it("left both hosts exactly as they were, over one SSH connection per host", async () => {
    expect(await snapshotHost(ctx1.h)).toEqual(before1);
    expect(await snapshotHost(ctx2.h)).toEqual(before2);
    expect(transportStats.connections - ctx1.connectionsAtStart).toBeLessThanOrEqual(2);
  });
});
