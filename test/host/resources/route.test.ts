/**
 * Route on a real lab host over real SSH, driven through the dynamic
 * provider: in a router namespace and on the host, via a gateway and/or a
 * device, IPv4 and IPv6.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Driver,
  connectionsOpened,
  addNamespace,
  addUplink,
  expectUserError,
  ipIn,
  labelled,
  oob,
  oobResult,
  removeNamespace,
  routes,
  routesTo,
  useLabHost,
} from "../support";

const ctx = useLabHost("tres4");
const route = () => new Driver("Route", ctx);
const NS = "ns-rt";

/** The IPv6 routes to exactly `dst` in `ns`. */
async function routes6To(ns: string, dst: string) {
  const out = (await oob(ctx.h, ipIn(ns, "-6", "-json", "route", "show", "table", "main"))).trim();
  return (JSON.parse(out || "[]") as { dst: string; gateway?: string; metric?: number }[]).filter(
    (r) => r.dst === dst,
  );
}

beforeAll(async () => {
  await addNamespace(ctx.h, NS);
  await addUplink(ctx.h, NS, "d0", "10.70.0.1/24");
  await addUplink(ctx.h, NS, "d1", "10.71.0.1/24");
  await oob(ctx.h, ipIn(NS, "addr", "add", "fd00:70::1/64", "dev", "d0", "nodad"));
  await addUplink(ctx.h, undefined, "h0", "10.72.0.1/24");
});

afterAll(async () => {
  if (!ctx.h) return;
  await removeNamespace(ctx.h, NS);
  await oobResult(ctx.h, ["ip", "link", "del", "h0"]);
});

describe("Route", () => {
  it.each(
    labelled([
      {
        label: "a route to a network via a gateway in a namespace",
        args: { namespace: NS, destination: "10.80.0.0/16", via: "10.70.0.254" },
        expected: { dst: "10.80.0.0/16", gateway: "10.70.0.254", dev: "d0" },
        id: `${NS}/main/10.80.0.0/16/0`,
      },
      {
        label: "the default route via a gateway",
        args: { namespace: NS, destination: "default", via: "10.70.0.254" },
        expected: { dst: "default", gateway: "10.70.0.254", dev: "d0" },
        id: `${NS}/main/default/0`,
      },
      {
        label: "a default route written as 0.0.0.0/0",
        args: { namespace: NS, destination: "0.0.0.0/0", via: "10.71.0.254" },
        expected: { dst: "default", gateway: "10.71.0.254", dev: "d1" },
        id: `${NS}/main/default/0`,
      },
      {
        label: "a route to a network out of a device only",
        args: { namespace: NS, destination: "10.81.0.0/16", device: "d1" },
        expected: { dst: "10.81.0.0/16", dev: "d1" },
        id: `${NS}/main/10.81.0.0/16/0`,
      },
      {
        label: "a route via a gateway and a device, with a metric",
        args: {
          namespace: NS,
          destination: "10.82.0.0/16",
          via: "10.71.0.254",
          device: "d1",
          metric: 100,
        },
        expected: { dst: "10.82.0.0/16", gateway: "10.71.0.254", dev: "d1", metric: 100 },
        id: `${NS}/main/10.82.0.0/16/100`,
      },
      {
        label: "a route on the host itself",
        args: { destination: "10.83.0.0/16", via: "10.72.0.254" },
        expected: { dst: "10.83.0.0/16", gateway: "10.72.0.254", dev: "h0" },
        id: "/main/10.83.0.0/16/0",
      },
    ]),
  )(
    "creates %s, which the host shows, reads it back unchanged and deletes it twice",
    async (_label, { args, expected, id }) => {
      const d = route();
      const ns = (args as { namespace?: string }).namespace;
      const before = await routes(ctx.h, ns);
      const res = await d.create(args);
      expect(res.id).toBe(id);
      const seen = await routesTo(ctx.h, ns, expected.dst);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject(expected);
      if (!("gateway" in expected)) expect(seen[0]!.gateway).toBeUndefined();
      await d.expectNoDrift(res);

      await d.delete(res);
      expect(await routes(ctx.h, ns)).toEqual(before);
      await d.delete(res);
      expect(await routes(ctx.h, ns)).toEqual(before);
    },
  );

  it("creates an IPv6 route, reads it back unchanged and deletes it", async () => {
    const d = route();
    const res = await d.create({ namespace: NS, destination: "fd00:84::/64", via: "fd00:70::fe" });
    expect(res.id).toBe(`${NS}/main/fd00:84::/64/1024`);
    expect(await routes6To(NS, "fd00:84::/64")).toMatchObject([
      { gateway: "fd00:70::fe", metric: 1024 },
    ]);
    await d.expectNoDrift(res);
    await d.delete(res);
    expect(await routes6To(NS, "fd00:84::/64")).toEqual([]);
    await d.delete(res);
  });

  it.each(
    labelled([
      {
        label: "changes the gateway",
        before: { via: "10.70.0.254" },
        after: { via: "10.70.0.253" },
        expected: { gateway: "10.70.0.253", dev: "d0" },
      },
      {
        label: "moves to another device and gateway",
        before: { via: "10.70.0.254", device: "d0" },
        after: { via: "10.71.0.254", device: "d1" },
        expected: { gateway: "10.71.0.254", dev: "d1" },
      },
      {
        label: "adds a gateway to a device route",
        before: { device: "d1" },
        after: { device: "d1", via: "10.71.0.254" },
        expected: { gateway: "10.71.0.254", dev: "d1" },
      },
    ]),
  )("%s in place, and the host shows it", async (_label, { before, after, expected }) => {
    const d = route();
    const base = { namespace: NS, destination: "10.85.0.0/16" };
    const res = await d.create({ ...base, ...before });
    const updated = await d.update(res, { ...base, ...after });
    const seen = await routesTo(ctx.h, NS, "10.85.0.0/16");
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject(expected);
    await d.expectNoDrift(updated);
    await d.delete(updated);
    expect(await routesTo(ctx.h, NS, "10.85.0.0/16")).toEqual([]);
  });

  it("replaces, old route first, when the destination changes", async () => {
    const d = route();
    const res = await d.create({ namespace: NS, destination: "10.85.0.0/16", via: "10.70.0.254" });
    try {
      const diff = await d.diff(res, {
        namespace: NS,
        destination: "10.86.0.0/16",
        via: "10.70.0.254",
      });
      expect(diff).toMatchObject({
        changes: true,
        replaces: ["destination"],
        deleteBeforeReplace: true,
      });
    } finally {
      await d.delete(res);
    }
  });

  it("keeps the old gateway when an update to an unreachable one is refused, and says why", async () => {
    const d = route();
    const res = await d.create({ namespace: NS, destination: "10.85.0.0/16", via: "10.70.0.254" });
    try {
      const inputs = await d.check(
        { namespace: NS, destination: "10.85.0.0/16", via: "10.99.0.1" },
        res.inputs,
      );
      const error = await d.provider.update!(res.id, res.outs, inputs).then(
        () => new Error("update succeeded"),
        (e: Error) => e,
      );
      expectUserError(
        error,
        ctx.h,
        `ip -n ${NS} route replace 10.85.0.0/16 via 10.99.0.1 proto 76`,
        "Nexthop has invalid gateway",
      );
      expect(await routesTo(ctx.h, NS, "10.85.0.0/16")).toMatchObject([{ gateway: "10.70.0.254" }]);
      await d.expectNoDrift(res);
    } finally {
      await d.delete(res);
    }
  });

  it.each(
    labelled([
      {
        label: "its gateway changed",
        change: [ipIn(NS, "route", "replace", "10.87.0.0/16", "via", "10.70.0.200")],
        expected: { via: "10.70.0.200", device: "d0" },
      },
      {
        label: "its device and gateway changed",
        change: [ipIn(NS, "route", "replace", "10.87.0.0/16", "via", "10.71.0.200", "dev", "d1")],
        expected: { via: "10.71.0.200", device: "d1" },
      },
    ]),
  )("reads a route with %s out of band as drift", async (_label, { change, expected }) => {
    const d = route();
    const res = await d.create({
      namespace: NS,
      destination: "10.87.0.0/16",
      via: "10.70.0.254",
      device: "d0",
    });
    for (const argv of change) await oob(ctx.h, argv);
    const props = await d.read(res);
    expect(props).toMatchObject(expected);
    const diff = await d.provider.diff!(res.id, props!, res.inputs);
    expect(diff).toMatchObject({ changes: true, replaces: [] });
    await d.delete(res);
    expect(await routesTo(ctx.h, NS, "10.87.0.0/16")).toEqual([]);
  });

  it.each(
    labelled([
      { label: "deleted", gone: [ipIn("ns-tmp", "route", "del", "10.88.0.0/16")] },
      { label: "gone with its device", gone: [ipIn("ns-tmp", "link", "del", "t0")] },
      { label: "gone with its namespace", gone: [["ip", "netns", "delete", "ns-tmp"]] },
    ]),
  )(
    "reads a route %s out of band as gone, and deletes it without failing",
    async (_label, { gone }) => {
      await addNamespace(ctx.h, "ns-tmp");
      try {
        await addUplink(ctx.h, "ns-tmp", "t0", "10.73.0.1/24");
        const d = route();
        const res = await d.create({
          namespace: "ns-tmp",
          destination: "10.88.0.0/16",
          via: "10.73.0.254",
        });
        for (const argv of gone) await oob(ctx.h, argv);
        expect(await d.read(res)).toBeUndefined();
        await d.delete(res);
        await d.delete(res);
      } finally {
        await removeNamespace(ctx.h, "ns-tmp");
      }
    },
  );

  it("leaves another route to the same destination with a different metric alone, even on a second delete", async () => {
    const d = route();
    const res = await d.create({ namespace: NS, destination: "10.89.0.0/16", via: "10.70.0.254" });
    // Someone else's route to the same network, at metric 50.
    await oob(ctx.h, ipIn(NS, "route", "add", "10.89.0.0/16", "via", "10.71.0.50", "metric", "50"));
    try {
      await d.delete(res);
      expect(await routesTo(ctx.h, NS, "10.89.0.0/16")).toMatchObject([
        { gateway: "10.71.0.50", metric: 50 },
      ]);
      // Delete is idempotent: the engine may call it again after a partial failure.
      await d.delete(res);
      expect(await routesTo(ctx.h, NS, "10.89.0.0/16")).toMatchObject([
        { gateway: "10.71.0.50", metric: 50 },
      ]);
    } finally {
      await oobResult(
        ctx.h,
        ipIn(NS, "route", "del", "10.89.0.0/16", "via", "10.71.0.50", "metric", "50"),
      );
    }
  });

  it.each(
    labelled([
      {
        label: "gateway is unreachable",
        args: { namespace: NS, destination: "10.90.0.0/16", via: "10.99.0.1" },
        command: `ip -n ${NS} route add 10.90.0.0/16 via 10.99.0.1 proto 76`,
        words: "Nexthop has invalid gateway",
      },
      {
        label: "device does not exist",
        args: { namespace: NS, destination: "10.90.0.0/16", device: "no-such-dev" },
        command: `ip -n ${NS} route add 10.90.0.0/16 dev no-such-dev proto 76`,
        words: 'Cannot find device "no-such-dev"',
      },
      {
        label: "namespace does not exist",
        args: { namespace: "ns-ghost", destination: "10.90.0.0/16", via: "10.70.0.254" },
        command: "ip -n ns-ghost route add 10.90.0.0/16 via 10.70.0.254 proto 76",
        words: 'Cannot open network namespace "ns-ghost"',
      },
    ]),
  )(
    "refuses a route whose %s, leaving nothing behind, and says where, what and why",
    async (_label, { args, command, words }) => {
      const before = await routes(ctx.h, NS);
      const error = await route().createFails(args);
      expectUserError(error, ctx.h, command, words);
      expect(await routes(ctx.h, NS)).toEqual(before);
      expect(await routesTo(ctx.h, NS, "10.90.0.0/16")).toEqual([]);
    },
  );

  it("refuses a route of someone else's to the same destination, and leaves it untouched", async () => {
    await oob(ctx.h, ipIn(NS, "route", "add", "10.91.0.0/16", "via", "10.70.0.50"));
    try {
      const error = await route().createFails({
        namespace: NS,
        destination: "10.91.0.0/16",
        via: "10.70.0.254",
      });
      expectUserError(
        error,
        ctx.h,
        `ip -n ${NS} route add 10.91.0.0/16 via 10.70.0.254 proto 76`,
        "File exists",
      );
      expect(error.message).toMatch(/already exists and is not managed by this stack/);
      expect(await routesTo(ctx.h, NS, "10.91.0.0/16")).toMatchObject([
        { gateway: "10.70.0.50", dev: "d0" },
      ]);
    } finally {
      await oob(ctx.h, ipIn(NS, "route", "del", "10.91.0.0/16"));
    }
  });

  it("left only the connected routes of the namespace's own links", async () => {
    expect((await routes(ctx.h, NS)).map((r) => r.dst)).toEqual(["10.70.0.0/24", "10.71.0.0/24"]);
  });

  it("used one pooled SSH connection for every operation in this file", () => {
    expect(connectionsOpened(ctx)).toBe(1);
  });
});
