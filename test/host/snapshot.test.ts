/**
 * Batched reads on a real lab host over real SSH: a refresh of a topology of
 * 20 namespaces, each with a veth to one bridge and a default route, plus a
 * NAT rule, reads the host once (one snapshot command), gives exactly what the
 * per-object live reads give, and never answers from a snapshot older than a
 * change made through the provider.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { liveReader } from "../../provider/host/reader";
import { type KindName, SNAPSHOT_WINDOW_MS, hostSnapshots, kinds } from "../../provider/runtime";
import type { BaseInputs, Kind } from "../../provider/resources/kind";
import { hostFor, transportStats } from "../../provider/transport";
import { resolveConnection } from "../../provider/transport/connection";
import { waitFor } from "../support/wait";
import { Driver, type Managed, ipIn, namespaces, oob, own, useLabHost } from "./support";

const ctx = useLabHost("tsnap");
const N = 20;
const BRIDGE = "br-snap";
const nsName = (i: number) => `snap-${String(i).padStart(2, "0")}`;

/** A resource the engine would refresh: its kind, id and state. */
interface Refreshed extends Managed {
  kind: KindName;
}
const made: Refreshed[] = [];

async function create(kind: KindName, args: Record<string, unknown>): Promise<Refreshed> {
  const res = { kind, ...(await new Driver(kind, ctx).create(args)) };
  made.push(res);
  return res;
}

/** Runs `f` over `items`, `width` at a time (the engine's parallelism). */
async function inParallel<T, R>(items: T[], width: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

/** `read` through the dynamic provider, as `pulumi refresh` calls it: the props, or undefined for gone. */
async function refreshOne(res: Refreshed): Promise<Record<string, unknown> | undefined> {
  const r = await new Driver(res.kind, ctx).provider.read!(res.id, res.outs);
  return r.id === undefined ? undefined : own(r.props as Record<string, unknown>);
}

/** The same resource read with the per-object commands, bypassing the provider and its snapshots. */
async function readLive(res: Refreshed): Promise<Record<string, unknown> | undefined> {
  const { connection } = resolveConnection(ctx.connection);
  const kind = kinds[res.kind] as unknown as Kind<BaseInputs, BaseInputs>;
  const props = await kind.read(liveReader(hostFor(connection!)), res.id, own(res.outs));
  return props && own(JSON.parse(JSON.stringify(props)) as Record<string, unknown>);
}

/** Commands run over SSH while `f` runs. */
async function commandsDuring<T>(f: () => Promise<T>): Promise<{ result: T; commands: number }> {
  const before = transportStats.commands;
  const result = await f();
  return { result, commands: transportStats.commands - before };
}

beforeAll(async () => {
  const indexes = Array.from({ length: N }, (_, i) => i + 1);
  await inParallel(indexes, 8, (i) => create("Namespace", { name: nsName(i) }));
  await create("Bridge", { name: BRIDGE, addresses: ["10.77.0.254/24"], acceptForwarding: true });
  await inParallel(indexes, 8, (i) =>
    create("VethPair", {
      a: { name: `vs${i}`, namespace: nsName(i), addresses: [`10.77.0.${i}/24`] },
      b: { name: `vs${i}-br`, bridge: BRIDGE },
    }),
  );
  await inParallel(indexes, 8, (i) =>
    create("Route", { namespace: nsName(i), destination: "default", via: "10.77.0.254" }),
  );
  await create("NatRule", { source: "10.77.0.0/24", outInterface: "eth0" });
}, 180_000);

afterAll(async () => {
  // Through the provider, newest first, so the lab host is as it was (and ip_forward put back).
  for (const res of [...made].reverse()) {
    await new Driver(res.kind, ctx).delete(res).catch(() => undefined);
  }
  if (ctx.h) expect((await namespaces(ctx.h)).filter((n) => n.startsWith("snap-"))).toEqual([]);
}, 180_000);

describe("refresh of many resources on one host", () => {
  it(`reads the host once for ${3 * N + 2} resources, and finds each as it was made`, async () => {
    expect(made).toHaveLength(3 * N + 2);
    hostSnapshots.clear();
    const { result, commands } = await commandsDuring(() => Promise.all(made.map(refreshOne)));
    // One snapshot for the whole batch, however many resources: not one or more per resource.
    expect(commands).toBe(1);
    result.forEach((props, i) => expect(props).toEqual(own(made[i]!.outs)));
  });

  it("gives exactly what the per-object live reads give", async () => {
    hostSnapshots.clear();
    const fromSnapshot = await Promise.all(made.map(refreshOne));
    const live = await commandsDuring(() => inParallel(made, 8, readLive));
    // The live reads cost at least a command per resource: what the snapshot saves.
    expect(live.commands).toBeGreaterThanOrEqual(made.length);
    expect(fromSnapshot).toEqual(live.result);
  });

  it("shares one snapshot between waves of reads, as the engine sends them", async () => {
    hostSnapshots.clear();
    const { commands } = await commandsDuring(() => inParallel(made, 8, refreshOne));
    expect(commands).toBeLessThanOrEqual(2);
  });

  it("reports drift made out of band once the snapshot window has passed", async () => {
    const victim = made.find((r) => r.kind === "VethPair")!;
    const a = victim.outs.a as { name: string; namespace: string };
    const b = victim.outs.b as { name: string };
    await refreshOne(victim);
    await oob(ctx.h, ipIn(a.namespace, "link", "set", a.name, "down"));
    try {
      // Reads within the window may answer from the snapshot taken before the change; one
      // after it must not. Waits for the fresh read rather than for the clock alone.
      const props = await waitFor(
        async () => {
          const p = await refreshOne(victim);
          return (p?.a as { up?: boolean } | undefined)?.up === false ? p : undefined;
        },
        {
          timeoutMs: SNAPSHOT_WINDOW_MS + 2_000,
          intervalMs: 100,
          what: `a refresh after the ${SNAPSHOT_WINDOW_MS} ms snapshot window to see ${a.name} down`,
        },
      );
      expect(props).toMatchObject({
        a: { name: a.name, up: false },
        b: { name: b.name, up: true },
      });
      expect(props).toEqual(await readLive(victim));
    } finally {
      await oob(ctx.h, ipIn(a.namespace, "link", "set", a.name, "up"));
    }
  });
});

describe("changes through the provider and the snapshot", () => {
  it("a create after reads drops the snapshot: the read after it sees the new object", async () => {
    hostSnapshots.clear();
    await Promise.all(made.map(refreshOne)); // a snapshot is now shared, for the window
    const ns = await create("Namespace", { name: "snap-new" });
    const veth = await create("VethPair", {
      a: { name: "vs-new", namespace: "snap-new", addresses: ["10.77.0.200/24"] },
      b: { name: "vs-new-br", bridge: BRIDGE },
    });
    const { result, commands } = await commandsDuring(() =>
      Promise.all([refreshOne(ns), refreshOne(veth), refreshOne(made[0]!)]),
    );
    expect(result[0]).toEqual(own(ns.outs));
    expect(result[1]).toEqual(own(veth.outs));
    expect(result[2]).toEqual(own(made[0]!.outs));
    expect(commands).toBe(1);
  });

  it("a delete drops it too: the read after it finds the object gone", async () => {
    const veth = made.find(
      (r) => r.kind === "VethPair" && JSON.stringify(r.outs).includes("vs-new"),
    )!;
    hostSnapshots.clear();
    expect(await refreshOne(veth)).toEqual(own(veth.outs));
    await new Driver("VethPair", ctx).delete(veth);
    made.splice(made.indexOf(veth), 1);
    expect(await refreshOne(veth)).toBeUndefined();
  });

  it("an update drops it too: the read after it sees the new settings", async () => {
    const veth = made.find((r) => r.kind === "VethPair")!;
    const a = veth.outs.a as Record<string, unknown>;
    const b = veth.outs.b as Record<string, unknown>;
    hostSnapshots.clear();
    expect(await refreshOne(veth)).toEqual(own(veth.outs));
    const d = new Driver("VethPair", ctx);
    const updated = await d.update(veth, { a: { ...a, up: false }, b });
    made[made.indexOf(veth)] = { ...updated, kind: "VethPair" };
    expect(await refreshOne({ ...updated, kind: "VethPair" })).toMatchObject({ a: { up: false } });
  });
});
