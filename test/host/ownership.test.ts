/**
 * Ownership on a real lab host: the marks every create leaves (link alias,
 * namespace and route records, route protocol 76), a create that finds its
 * own mark taking the object over (an interrupted run), `adopt: true` taking
 * over what a person or netplan made, refusals of another kind and of
 * another resource's mark, and `linuxnet orphans` finding exactly a stack's
 * objects that its export no longer holds.
 */

import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  Driver,
  type Managed,
  addNamespace,
  addresses,
  afterFailure,
  ipIn,
  link,
  namespaces,
  oob,
  oobAll,
  oobResult,
  removeNamespace,
  routesTo,
  useLabHost,
} from "./support";
import { snapshotHost } from "../support/snapshot";
import { main as cli } from "../../provider/cli/linuxnet";
import type { KindName } from "../../provider/runtime";

const ctx = useLabHost("ow1");
const NS = "ow-ns";

/** A resource of a stack `ow/test`, as a program of that stack would send it. */
function of(kind: KindName, resourceName: string) {
  const d = new Driver(kind, ctx);
  const owner = `ow/test/${kind}/${resourceName}`;
  return {
    mark: `linuxnet:${owner}`,
    create: (args: Record<string, unknown>) => d.create({ resourceName, owner, ...args }),
    createFails: (args: Record<string, unknown>) => d.createFails({ resourceName, owner, ...args }),
    driver: d,
  };
}

/** The alias of a link, seen out of band. */
async function alias(ns: string | undefined, name: string): Promise<string | undefined> {
  const out = await oobResult(ctx.h, ipIn(ns, "-json", "link", "show", "dev", name));
  if (out.exitCode !== 0) return undefined;
  return (JSON.parse(out.stdout) as { ifalias?: string }[])[0]?.ifalias;
}

/** What /run/linuxnet holds: every file with its first line. */
async function records(): Promise<string[]> {
  const r = await oobResult(ctx.h, ["grep", "-r", "-m1", "", "/run/linuxnet"]);
  return r.stdout.split("\n").filter(Boolean).sort();
}

async function cleanup(): Promise<void> {
  for (const ns of await namespaces(ctx.h)) {
    if (ns.startsWith("ow-")) await removeNamespace(ctx.h, ns);
  }
  for (const l of ["ow-br", "ow-br2", "ow-p0", "ow-va", "ow-vc", "ow-vx", "ow-dm"]) {
    await oobResult(ctx.h, ["ip", "link", "del", l]);
  }
  await oobResult(ctx.h, ["rm", "-rf", "/run/linuxnet"]);
}
afterFailure(cleanup);
afterAll(async () => {
  if (ctx.h) await cleanup();
});

describe("marks of ownership", () => {
  it("are written in the create's round trip and removed with the object", async () => {
    const before = await records();
    const ns = await of("Namespace", "ns").create({ name: NS });
    const br = await of("Bridge", "br").create({ name: "ow-br" });
    const veth = await of("VethPair", "v").create({
      a: { name: "ow-va", addresses: ["10.77.0.1/24"] },
      b: { name: "ow-vb", namespace: NS },
    });
    const rt = await of("Route", "rt").create({
      destination: "10.78.0.0/16",
      via: "10.77.0.2",
    });
    expect(await alias(undefined, "ow-br")).toBe("linuxnet:ow/test/Bridge/br");
    expect(await alias(undefined, "ow-va")).toBe("linuxnet:ow/test/VethPair/v");
    expect(await alias(NS, "ow-vb")).toBe("linuxnet:ow/test/VethPair/v");
    expect(await records()).toEqual(
      [
        ...before,
        "/run/linuxnet/netns/ow-ns:linuxnet:ow/test/Namespace/ns",
        "/run/linuxnet/route/@host/main_10.78.0.0:16_0:linuxnet:ow/test/Route/rt",
      ].sort(),
    );
    expect(await routesTo(ctx.h, undefined, "10.78.0.0/16")).toMatchObject([
      { gateway: "10.77.0.2", protocol: "76" },
    ]);
    await of("Route", "rt").driver.delete(rt);
    await of("VethPair", "v").driver.delete(veth);
    await of("Bridge", "br").driver.delete(br);
    await of("Namespace", "ns").driver.delete(ns);
    expect(await records()).toEqual(before);
  });
});

describe("a create that finds an object of its name", () => {
  it("takes over its own namespace and bridge after an interrupted create, converging them", async () => {
    // The first create ran, and its answer was lost (the CLI killed): the engine has no state.
    const ns = of("Namespace", "ns");
    await ns.create({ name: NS });
    await oob(ctx.h, ipIn(NS, "link", "set", "lo", "down"));
    const again = await ns.create({ name: NS });
    expect(again.id).toBe(NS);
    expect((await link(ctx.h, NS, "lo"))?.flags).toContain("UP");

    const br = of("Bridge", "br");
    await br.create({ name: "ow-br", mtu: 1400 });
    const ifindex = (await link(ctx.h, undefined, "ow-br"))!.ifindex;
    const taken = await br.create({ name: "ow-br", mtu: 1300, addresses: ["10.79.0.1/24"] });
    expect((await link(ctx.h, undefined, "ow-br"))!.ifindex).toBe(ifindex);
    expect((await link(ctx.h, undefined, "ow-br"))!.mtu).toBe(1300);
    await br.driver.expectNoDrift(taken);
    await br.driver.delete(taken);
    await ns.driver.delete(again);
    expect(await link(ctx.h, undefined, "ow-br")).toBeUndefined();
    expect(await namespaces(ctx.h)).not.toContain(NS);
  });

  it("does not take a namespace deleted by hand and made again under the name for its own", async () => {
    const ns = of("Namespace", "ns");
    await ns.create({ name: NS });
    // Its record stays behind; the kernel may reuse the inode number, not within the same second.
    await oob(ctx.h, ["ip", "netns", "delete", NS]);
    await new Promise((r) => setTimeout(r, 1100));
    await addNamespace(ctx.h, NS);
    const refused = await ns.createFails({ name: NS });
    expect(refused.message).toMatch(
      /namespace "ow-ns" already exists and is not managed by this stack; set adopt: true/,
    );
    await removeNamespace(ctx.h, NS);
    await oob(ctx.h, ["rm", "-f", `/run/linuxnet/netns/${NS}`]);
  });

  it("refuses an object marked by another resource or stack, even with adopt, naming the mark", async () => {
    const mine = of("Bridge", "br");
    const made = await mine.create({ name: "ow-br" });
    for (const other of [
      new Driver("Bridge", ctx).createFails({
        resourceName: "br2",
        owner: "ow/test/Bridge/br2",
        name: "ow-br",
        adopt: true,
      }),
      new Driver("Bridge", ctx).createFails({
        resourceName: "br",
        owner: "ow/prod/Bridge/br",
        name: "ow-br",
        adopt: true,
      }),
    ]) {
      const error = await other;
      expect(error.message).toMatch(
        /bridge "ow-br" already exists and is marked as another resource's \(linuxnet:ow\/test\/Bridge\/br\)/,
      );
    }
    expect(await alias(undefined, "ow-br")).toBe(mine.mark);
    await mine.driver.delete(made);
  });
});

describe("adopt: true", () => {
  it("adopts an existing bridge with another MTU: MTU converged, same ifindex, its ports kept", async () => {
    await oobAll(ctx.h, [
      ["ip", "link", "add", "ow-br", "type", "bridge"],
      ["ip", "link", "add", "ow-p0", "type", "veth", "peer", "name", "ow-p1"],
      ["ip", "link", "set", "ow-p0", "master", "ow-br"],
      // After the port: a bridge takes its ports' MTU when one joins.
      ["ip", "link", "set", "ow-br", "mtu", "1400"],
    ]);
    const before = (await link(ctx.h, undefined, "ow-br"))!;
    const br = of("Bridge", "br");
    const refused = await br.createFails({ name: "ow-br", mtu: 1300 });
    expect(refused.message).toMatch(
      /bridge "ow-br" already exists and is not managed by this stack; set adopt: true/,
    );
    expect((await link(ctx.h, undefined, "ow-br"))!.mtu).toBe(1400);

    const res = await br.create({ name: "ow-br", mtu: 1300, adopt: true });
    const after = (await link(ctx.h, undefined, "ow-br"))!;
    expect(after.ifindex).toBe(before.ifindex);
    expect(after.mtu).toBe(1300);
    expect(after.flags).toContain("UP");
    expect((await link(ctx.h, undefined, "ow-p0"))?.master).toBe("ow-br");
    // Marked as adopted: the same owner to a takeover, never deleted by "orphans --delete".
    expect(await alias(undefined, "ow-br")).toBe(`${br.mark};adopted`);
    await br.driver.expectNoDrift(res);
    // Toggling adopt is no change.
    expect((await br.driver.diff(res, { name: "ow-br", mtu: 1300 })).changes).toBe(false);
    // Delete removes it, as it would a bridge it made; its port stays, a port of nothing.
    await br.driver.delete(res);
    expect(await link(ctx.h, undefined, "ow-br")).toBeUndefined();
    expect((await link(ctx.h, undefined, "ow-p0"))?.master).toBeUndefined();
    await oob(ctx.h, ["ip", "link", "del", "ow-p0"]);
  });

  it("adopts a namespace, a veth pair, a vxlan device and a route, each deleted with its resource back to the host's snapshot", async () => {
    const snapshot = await snapshotHost(ctx.h);
    const before = await records();
    await addNamespace(ctx.h, NS);
    await oobAll(ctx.h, [
      ["ip", "link", "add", "ow-va", "type", "veth", "peer", "name", "ow-vb", "netns", NS],
      ["ip", "link", "add", "ow-vx", "type", "vxlan", "id", "4242", "dstport", "4789"],
      ["ip", "link", "set", "ow-va", "up"],
      ["ip", "-n", NS, "link", "set", "ow-vb", "up"],
      ["ip", "addr", "add", "10.77.0.1/24", "dev", "ow-va"],
      ["ip", "route", "add", "10.78.0.0/16", "via", "10.77.0.2"],
    ]);
    const rows: { kind: KindName; args: Record<string, unknown> }[] = [
      { kind: "Namespace", args: { name: NS } },
      {
        kind: "VethPair",
        args: {
          a: { name: "ow-va", addresses: ["10.77.0.1/24"] },
          b: { name: "ow-vb", namespace: NS, addresses: ["10.77.0.2/24"] },
        },
      },
      { kind: "Vxlan", args: { name: "ow-vx", vni: 4242, mtu: 1400 } },
      { kind: "Route", args: { destination: "10.78.0.0/16", via: "10.77.0.3" } },
    ];
    const made: { d: Driver; res: Managed }[] = [];
    for (const { kind, args } of rows) {
      const r = of(kind, `a-${kind}`);
      const refused = await r.createFails(args);
      expect(refused.message, kind).toMatch(
        /already exists and is not managed by this stack; set adopt: true/,
      );
      const res = await r.create({ ...args, adopt: true });
      await r.driver.expectNoDrift(res);
      made.push({ d: r.driver, res });
    }
    expect((await link(ctx.h, NS, "ow-vb"))?.flags).toContain("UP");
    expect(await alias(NS, "ow-vb")).toBe("linuxnet:ow/test/VethPair/a-VethPair;adopted");
    expect((await link(ctx.h, undefined, "ow-vx"))?.mtu).toBe(1400);
    expect(await routesTo(ctx.h, undefined, "10.78.0.0/16")).toMatchObject([
      { gateway: "10.77.0.3", protocol: "76" },
    ]);
    for (const { d, res } of made.reverse()) await d.delete(res);
    expect(await snapshotHost(ctx.h)).toEqual(snapshot);
    expect(await records()).toEqual(before);
  });

  it("refuses veth ends that are not each other's peer, or differ in ownership, marking nothing", async () => {
    await oobAll(ctx.h, [
      ["ip", "link", "add", "ow-va", "type", "veth", "peer", "name", "ow-vb"],
      ["ip", "link", "add", "ow-vc", "type", "veth", "peer", "name", "ow-vd"],
    ]);
    const v = of("VethPair", "v");
    // a is unmarked, b is the end of another pair: b is not to be re-marked nor reconfigured.
    const crossed = await v.createFails({
      a: { name: "ow-vc" },
      b: { name: "ow-vb", addresses: ["10.77.0.9/24"] },
      adopt: true,
    });
    expect(crossed.message).toMatch(
      /veths "ow-vc" and "ow-vb" already exist but are not each other's peer \("ow-vc"'s peer is "ow-vd", "ow-vb"'s is "ow-va"\); not taken over/,
    );
    // One pair, but one end marked by another resource and the other unmarked.
    await oob(ctx.h, ["ip", "link", "set", "dev", "ow-vb", "alias", "linuxnet:ow/test/VethPair/x"]);
    const mixed = await v.createFails({ a: { name: "ow-va" }, b: { name: "ow-vb" }, adopt: true });
    expect(mixed.message).toMatch(
      /carry different marks \("ow-va": no mark, "ow-vb": linuxnet:ow\/test\/VethPair\/x\); not taken over/,
    );
    for (const l of ["ow-va", "ow-vc", "ow-vd"])
      expect(await alias(undefined, l), l).toBeUndefined();
    expect(await alias(undefined, "ow-vb")).toBe("linuxnet:ow/test/VethPair/x");
    expect(await addresses(ctx.h, undefined, "ow-vb")).toEqual([]);
    await oob(ctx.h, ["ip", "link", "del", "ow-va"]);
    await oob(ctx.h, ["ip", "link", "del", "ow-vc"]);
  });

  it("refuses an object of another kind, and one whose fixed settings differ", async () => {
    await oobAll(ctx.h, [
      ["ip", "link", "add", "ow-dm", "type", "veth", "peer", "name", "ow-dm1"],
      ["ip", "link", "add", "ow-vx", "type", "vxlan", "id", "4242", "dstport", "4789"],
    ]);
    const wrongKind = await of("Bridge", "br").createFails({ name: "ow-dm", adopt: true });
    expect(wrongKind.message).toMatch(
      /"ow-dm" already exists but is not a bridge \(it is a veth link\)/,
    );
    const wrongVni = await of("Vxlan", "vx").createFails({ name: "ow-vx", vni: 7, adopt: true });
    expect(wrongVni.message).toMatch(/vxlan "ow-vx" already exists, but its vni differ/);
    expect(await alias(undefined, "ow-dm")).toBeUndefined();
    expect(await alias(undefined, "ow-vx")).toBeUndefined();
    await oob(ctx.h, ["ip", "link", "del", "ow-dm"]);
    await oob(ctx.h, ["ip", "link", "del", "ow-vx"]);
  });
});

describe("linuxnet orphans", () => {
  /** Runs the CLI against the lab host; its exit code and what it printed. */
  async function orphans(exportJson: unknown, ...more: string[]) {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ow-orphans-"));
    try {
      await fs.writeFile(path.join(dir, "key"), ctx.h.privateKey, { mode: 0o600 });
      await fs.writeFile(path.join(dir, "export.json"), JSON.stringify(exportJson));
      const out: string[] = [];
      const code = await cli(
        [
          "orphans",
          "--host",
          ctx.h.address,
          "--key",
          path.join(dir, "key"),
          "--host-key",
          ctx.h.hostKey,
          "--stack-export",
          path.join(dir, "export.json"),
          ...more,
        ],
        { out: (t) => out.push(t), err: (t) => out.push(t) },
      );
      return { code, out: out.join("\n") };
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }
  const urn = (kind: string, name: string) =>
    `urn:pulumi:test::ow::pulumi-nodejs:dynamic/linuxnet:${kind}::${name}`;

  it("lists exactly the stack's objects its export does not hold, never hand-made ones, and --delete leaves the host as it was", async () => {
    // Hand-made objects, one with an alias of its own, and another stack's bridge.
    await addNamespace(ctx.h, "ow-hand");
    await oobAll(ctx.h, [
      ["ip", "link", "add", "ow-dm", "type", "bridge"],
      ["ip", "link", "set", "dev", "ow-dm", "alias", "uplink to rack 4"],
    ]);
    const otherStack = await new Driver("Bridge", ctx).create({
      resourceName: "br",
      owner: "ow/prod/Bridge/br",
      name: "ow-br2",
    });
    const snapshot = await snapshotHost(ctx.h);
    const before = await records();

    await of("Namespace", "ns").create({ name: NS });
    await of("Bridge", "br").create({ name: "ow-br" });
    await of("VethPair", "v").create({
      a: { name: "ow-va", bridge: "ow-br" },
      b: { name: "ow-vb", namespace: NS, addresses: ["10.77.0.2/24"] },
    });
    await of("Route", "rt").create({ namespace: NS, destination: "default", via: "10.77.0.1" });
    // A prefix: its record's file name holds ':' (main_10.78.0.0:16_0).
    await of("Route", "rt2").create({
      namespace: NS,
      destination: "10.78.0.0/16",
      via: "10.77.0.1",
    });

    // An export that still holds the bridge and the route: the others are orphans.
    const partial = await orphans({
      version: 3,
      deployment: {
        resources: [
          { urn: "urn:pulumi:test::ow::pulumi:pulumi:Stack::ow-test", type: "pulumi:pulumi:Stack" },
          { urn: urn("Bridge", "br"), type: "pulumi-nodejs:dynamic/linuxnet:Bridge" },
          { urn: urn("Route", "rt"), type: "pulumi-nodejs:dynamic/linuxnet:Route" },
        ],
      },
    });
    expect(partial.code).toBe(1);
    const listed = (text: string) =>
      text
        .split("\n")
        .filter((l) => l.startsWith("  "))
        .map((l) => l.trim().replace(/\s+/g, " "))
        .sort();
    expect(listed(partial.out)).toEqual(
      [
        "link ow-va (veth) linuxnet:ow/test/VethPair/v",
        "link ow-ns/ow-vb (veth) linuxnet:ow/test/VethPair/v",
        "namespace ow-ns linuxnet:ow/test/Namespace/ns",
        "route ow-ns/10.78.0.0/16 table main metric 0 linuxnet:ow/test/Route/rt2",
      ].sort(),
    );

    // The state lost altogether: every object of the stack, and nothing else.
    const empty = { version: 3, deployment: { manifest: {} } };
    const all = await orphans(empty, "--stack", "ow/test");
    expect(listed(all.out)).toEqual(
      [
        "link ow-br (bridge) linuxnet:ow/test/Bridge/br",
        "link ow-va (veth) linuxnet:ow/test/VethPair/v",
        "link ow-ns/ow-vb (veth) linuxnet:ow/test/VethPair/v",
        "namespace ow-ns linuxnet:ow/test/Namespace/ns",
        "route ow-ns/default table main metric 0 linuxnet:ow/test/Route/rt",
        "route ow-ns/10.78.0.0/16 table main metric 0 linuxnet:ow/test/Route/rt2",
      ].sort(),
    );
    expect(all.out).not.toMatch(/ow-hand|ow-dm|ow-br2/);
    console.log(`linuxnet orphans output:\n${all.out}`);

    const deleted = await orphans(empty, "--stack", "ow/test", "--delete");
    expect(deleted.code).toBe(0);
    console.log(`linuxnet orphans --delete output:\n${deleted.out}`);
    expect(await snapshotHost(ctx.h)).toEqual(snapshot);
    expect(await records()).toEqual(before);
    expect((await orphans(empty, "--stack", "ow/test")).out).toMatch(/no orphans of ow\/test/);

    await new Driver("Bridge", ctx).delete(otherStack);
    await oob(ctx.h, ["ip", "link", "del", "ow-dm"]);
    await removeNamespace(ctx.h, "ow-hand");
  });

  it("lists an adopted object its stack let go of (retainOnDelete) as adopted, and --delete keeps it", async () => {
    // A bridge made by hand (netplan's br0), adopted, then its resource left the stack
    // with retainOnDelete: the engine never called delete, and its mark stays.
    await oob(ctx.h, ["ip", "link", "add", "ow-dm", "type", "bridge"]);
    const ad = of("Bridge", "ad");
    await ad.create({ name: "ow-dm", adopt: true });
    expect(await alias(undefined, "ow-dm")).toBe(`${ad.mark};adopted`);
    const ifindex = (await link(ctx.h, undefined, "ow-dm"))!.ifindex;

    const empty = { version: 3, deployment: { manifest: {} } };
    const listed = await orphans(empty, "--stack", "ow/test");
    expect(listed.code).toBe(1);
    expect(listed.out).toMatch(
      /link +ow-dm \(bridge\) +linuxnet:ow\/test\/Bridge\/ad;adopted +adopted \(existed before the stack\): never deleted/,
    );
    const deleted = await orphans(empty, "--stack", "ow/test", "--delete");
    expect(deleted.code).toBe(0);
    expect(deleted.out).toMatch(/deleted 0 object\(s\)\nkept 1 adopted object\(s\)/);
    expect((await link(ctx.h, undefined, "ow-dm"))?.ifindex).toBe(ifindex);
    expect(await alias(undefined, "ow-dm")).toBe(`${ad.mark};adopted`);

    // The same resource back in the stack takes it over as its own, without adopt.
    const again = await ad.create({ name: "ow-dm", mtu: 1400 });
    expect((await link(ctx.h, undefined, "ow-dm"))?.ifindex).toBe(ifindex);
    expect((await link(ctx.h, undefined, "ow-dm"))?.mtu).toBe(1400);
    expect(await alias(undefined, "ow-dm")).toBe(`${ad.mark};adopted`);
    await ad.driver.delete(again);
    expect(await link(ctx.h, undefined, "ow-dm")).toBeUndefined();
  });
});
