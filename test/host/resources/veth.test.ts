/**
 * VethPair on a real lab host over real SSH, driven through the dynamic
 * provider: ends in namespaces or on the host, bridge ports, addresses, MTU.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Driver,
  addNamespace,
  connectionsOpened,
  expectUserError,
  inNs,
  ipIn,
  labelled,
  link,
  linkState,
  links,
  namespaces,
  oob,
  oobAll,
  oobResult,
  removeNamespace,
  useLabHost,
} from "../support";

const ctx = useLabHost("tres3");
const veth = () => new Driver("VethPair", ctx);
const BLUE = "ns-blue";
const RED = "ns-red";

/** One end as the host has it, seen out of band. */
const end = (ns: string | undefined, name: string) => linkState(ctx.h, ns, name);

/** Every link name on the host and in both namespaces: the world a failed create must leave as it was. */
async function world(): Promise<Record<string, string[]>> {
  const names = async (ns?: string) => (await links(ctx.h, ns)).map((l) => l.ifname).sort();
  return { host: await names(), [BLUE]: await names(BLUE), [RED]: await names(RED) };
}

beforeAll(async () => {
  await addNamespace(ctx.h, BLUE);
  await addNamespace(ctx.h, RED);
  await oobAll(ctx.h, [
    ["ip", "link", "add", "br-v", "type", "bridge"],
    ["ip", "link", "set", "br-v", "up"],
    ["ip", "link", "add", "br-w", "type", "bridge"],
    ["ip", "link", "set", "br-w", "up"],
    ipIn(RED, "link", "add", "br-r", "type", "bridge"),
    ipIn(RED, "link", "set", "br-r", "up"),
  ]);
});

afterAll(async () => {
  if (!ctx.h) return;
  await removeNamespace(ctx.h, BLUE);
  await removeNamespace(ctx.h, RED);
  for (const br of ["br-v", "br-w"]) await oobResult(ctx.h, ["ip", "link", "del", br]);
});

describe("VethPair", () => {
  it.each(
    labelled([
      {
        label: "from a namespace to a bridge on the host",
        a: { name: "veth-blue", namespace: BLUE, addresses: ["10.60.0.1/24"] },
        b: { name: "veth-blue-br", bridge: "br-v" },
        mtu: undefined,
        expectA: { up: true, addresses: ["10.60.0.1/24"], master: undefined },
        expectB: { up: true, addresses: [], master: "br-v" },
      },
      {
        label: "between two namespaces, with an MTU",
        a: { name: "v-ab", namespace: BLUE, addresses: ["10.61.0.1/30"] },
        b: { name: "v-ba", namespace: RED, addresses: ["10.61.0.2/30"] },
        mtu: 1400,
        expectA: { up: true, mtu: 1400, addresses: ["10.61.0.1/30"] },
        expectB: { up: true, mtu: 1400, addresses: ["10.61.0.2/30"] },
      },
      {
        label: "from a namespace to a bridge inside another namespace",
        a: { name: "v-in", namespace: BLUE, addresses: ["10.63.0.1/24"] },
        b: { name: "v-in-br", namespace: RED, bridge: "br-r", up: true },
        mtu: undefined,
        expectA: { up: true, addresses: ["10.63.0.1/24"] },
        expectB: { up: true, master: "br-r" },
      },
    ]),
  )(
    "creates a pair %s, reads it back unchanged, deletes it and deletes it again",
    async (_label, { a, b, mtu, expectA, expectB }) => {
      const d = veth();
      const res = await d.create({ a, b, mtu });
      expect(res.id).toBe(`${a.namespace ?? ""}/${a.name}~${b.namespace ?? ""}/${b.name}`);
      expect(await end(a.namespace, a.name)).toMatchObject({ kind: "veth", ...expectA });
      expect(await end(b.namespace, b.name)).toMatchObject({ kind: "veth", ...expectB });
      await d.expectNoDrift(res);

      await d.delete(res);
      expect(await end(a.namespace, a.name)).toBeUndefined();
      expect(await end(b.namespace, b.name)).toBeUndefined();
      await d.delete(res);
    },
  );

  it("carries traffic between two namespaces once created", async () => {
    const d = veth();
    const res = await d.create({
      a: { name: "v-ping", namespace: BLUE, addresses: ["10.64.0.1/30"] },
      b: { name: "v-pong", namespace: RED, addresses: ["10.64.0.2/30"] },
    });
    try {
      const ping = await oobResult(ctx.h, inNs(BLUE, ["ping", "-c", "1", "-W", "2", "10.64.0.2"]));
      expect(ping.exitCode).toBe(0);
    } finally {
      await d.delete(res);
    }
  });

  it.each(
    labelled([
      {
        label: "adds an address to end a",
        before: {},
        after: { a: { addresses: ["10.62.0.1/24", "10.62.1.1/24"] } },
        expectA: { addresses: ["10.62.0.1/24", "10.62.1.1/24"] },
        expectB: {},
      },
      {
        label: "removes an address from end a",
        before: { a: { addresses: ["10.62.0.1/24", "10.62.1.1/24"] } },
        after: { a: { addresses: ["10.62.1.1/24"] } },
        expectA: { addresses: ["10.62.1.1/24"] },
        expectB: {},
      },
      {
        label: "changes the MTU of both ends",
        before: { mtu: 1500 },
        after: { mtu: 1400 },
        expectA: { mtu: 1400 },
        expectB: { mtu: 1400 },
      },
      {
        label: "takes end a down",
        before: {},
        after: { a: { up: false } },
        expectA: { up: false },
        expectB: { up: true },
      },
      {
        label: "brings end b up",
        before: { b: { up: false } },
        after: { b: { up: true } },
        expectA: {},
        expectB: { up: true },
      },
      {
        label: "detaches end b from its bridge",
        before: {},
        after: { b: { bridge: undefined } },
        expectA: {},
        expectB: { master: undefined },
      },
      {
        label: "attaches end b to a bridge",
        before: { b: { bridge: undefined } },
        after: {},
        expectA: {},
        expectB: { master: "br-v" },
      },
      {
        label: "moves end b to another bridge",
        before: {},
        after: { b: { bridge: "br-w" } },
        expectA: {},
        expectB: { master: "br-w" },
      },
    ]),
  )("%s in place, and the host shows it", async (_label, { before, after, expectA, expectB }) => {
    const d = veth();
    const args = (over: { a?: object; b?: object; mtu?: number }) => ({
      a: { name: "v-u", namespace: BLUE, addresses: ["10.62.0.1/24"], ...over.a },
      b: { name: "v-u-br", bridge: "br-v", ...over.b },
      mtu: over.mtu,
    });
    const res = await d.create(args(before));
    const updated = await d.update(res, args(after));
    expect(await end(BLUE, "v-u")).toMatchObject({ kind: "veth", ...expectA });
    const b = await end(undefined, "v-u-br");
    expect(b).toMatchObject({ kind: "veth", ...expectB });
    if ("master" in expectB && expectB.master === undefined) expect(b?.master).toBeUndefined();
    await d.expectNoDrift(updated);
    await d.delete(updated);
    expect(await end(BLUE, "v-u")).toBeUndefined();
  });

  it.each(
    labelled([
      {
        label: "an address removed from end a",
        change: [ipIn(BLUE, "addr", "del", "10.65.0.1/24", "dev", "v-d")],
        expected: { a: { addresses: [] } },
        absent: undefined,
      },
      {
        label: "end a taken down",
        change: [ipIn(BLUE, "link", "set", "v-d", "down")],
        expected: { a: { up: false } },
        absent: undefined,
      },
      {
        label: "end b detached from its bridge",
        change: [["ip", "link", "set", "v-d-br", "nomaster"]],
        expected: {},
        absent: "bridge",
      },
      {
        label: "end b moved to another bridge",
        change: [["ip", "link", "set", "v-d-br", "master", "br-w"]],
        expected: { b: { bridge: "br-w" } },
        absent: undefined,
      },
      {
        label: "the MTU changed on both ends",
        change: [
          ipIn(BLUE, "link", "set", "v-d", "mtu", "1300"),
          ["ip", "link", "set", "v-d-br", "mtu", "1300"],
        ],
        expected: { mtu: 1300 },
        absent: undefined,
      },
    ]),
  )("reads a pair with %s out of band as drift", async (_label, { change, expected, absent }) => {
    const d = veth();
    const res = await d.create({
      a: { name: "v-d", namespace: BLUE, addresses: ["10.65.0.1/24"] },
      b: { name: "v-d-br", bridge: "br-v" },
      mtu: 1500,
    });
    for (const argv of change) await oob(ctx.h, argv);
    const props = await d.read(res);
    expect(props).toMatchObject(expected);
    if (absent) expect((props!.b as Record<string, unknown>)[absent]).toBeUndefined();
    const diff = await d.provider.diff!(res.id, props!, res.inputs);
    expect(diff.changes).toBe(true);
    expect(diff.replaces ?? []).toEqual([]);
    await d.delete(res);
    expect(await end(BLUE, "v-d")).toBeUndefined();
    expect(await end(undefined, "v-d-br")).toBeUndefined();
  });

  it.each(
    labelled([
      { label: "deleted by its host end", gone: [["ip", "link", "del", "v-g-br"]] },
      { label: "gone with end a's namespace", gone: [["ip", "netns", "delete", "ns-tmp"]] },
    ]),
  )("reads a pair %s out of band as gone", async (_label, { gone }) => {
    await addNamespace(ctx.h, "ns-tmp");
    try {
      const d = veth();
      const res = await d.create({
        a: { name: "v-g", namespace: "ns-tmp" },
        b: { name: "v-g-br", bridge: "br-v" },
      });
      for (const argv of gone) await oob(ctx.h, argv);
      expect(await d.read(res)).toBeUndefined();
      await d.delete(res);
      expect(await end(undefined, "v-g-br")).toBeUndefined();
    } finally {
      await removeNamespace(ctx.h, "ns-tmp");
    }
  });

  it("deletes a pair whose namespace was deleted first and took end a with it", async () => {
    const namespace = new Driver("Namespace", ctx);
    const ns = await namespace.create({ name: "ns-first" });
    const d = veth();
    const res = await d.create({
      a: { name: "v-nf", namespace: "ns-first", addresses: ["10.66.0.1/24"] },
      b: { name: "v-nf-br", bridge: "br-v" },
    });
    await namespace.delete(ns);
    expect(await namespaces(ctx.h)).not.toContain("ns-first");
    await d.delete(res);
    expect(await end(undefined, "v-nf-br")).toBeUndefined();
    await d.delete(res);
  });

  it.each(
    labelled([
      {
        label: "end b names a bridge that does not exist",
        setup: [] as string[][],
        a: { name: "v-f", namespace: BLUE, addresses: ["10.67.0.1/24"] },
        b: { name: "v-f-br", bridge: "no-such-br" },
        command: "ip link set dev v-f-br master no-such-br",
        words: 'argument "no-such-br" is wrong: Device does not exist',
      },
      {
        label: "end a's IPv6 address is refused by its namespace",
        setup: [inNs("ns-no6", ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"])],
        a: { name: "v-f", namespace: "ns-no6", addresses: ["10.67.0.1/24", "fd00:67::1/64"] },
        b: { name: "v-f-br", bridge: "br-v" },
        command: "ip -n ns-no6 addr add fd00:67::1/64 dev v-f",
        words: "IPv6 is disabled on this device",
      },
      {
        label: "end b's name is taken in its namespace",
        setup: [ipIn(RED, "link", "add", "v-f-br", "type", "ifb")],
        a: { name: "v-f", namespace: BLUE },
        b: { name: "v-f-br", namespace: RED },
        command: "ip link add name v-f netns ns-blue type veth peer name v-f-br netns ns-red",
        words: "File exists",
      },
      {
        label: "end a's namespace does not exist",
        setup: [],
        a: { name: "v-f", namespace: "ns-ghost" },
        b: { name: "v-f-br", bridge: "br-v" },
        command: "ip link add name v-f netns ns-ghost type veth peer name v-f-br",
        words: 'Invalid "netns" value',
      },
    ]),
  )(
    "undoes a pair whose %s, leaving nothing behind, and says where, what and why",
    async (_label, { setup, a, b, command, words }) => {
      await addNamespace(ctx.h, "ns-no6");
      try {
        for (const argv of setup) await oob(ctx.h, argv);
        const before = await world();
        const noSix = (await links(ctx.h, "ns-no6")).map((l) => l.ifname);
        const error = await veth().createFails({ a, b });
        expectUserError(error, ctx.h, command, words);
        expect(await world()).toEqual(before);
        expect((await links(ctx.h, "ns-no6")).map((l) => l.ifname)).toEqual(noSix);
        expect(await end(undefined, "v-f-br")).toBeUndefined();
        expect(await end(BLUE, "v-f")).toBeUndefined();
      } finally {
        await removeNamespace(ctx.h, "ns-no6");
        await oobResult(ctx.h, ipIn(RED, "link", "del", "v-f-br"));
      }
    },
  );

  it("refuses an end whose name a link on the host already has, and leaves that link untouched", async () => {
    const eth0 = await link(ctx.h, undefined, "eth0");
    const error = await veth().createFails({
      a: { name: "v-x", namespace: BLUE },
      b: { name: "eth0" },
    });
    expectUserError(
      error,
      ctx.h,
      "ip link add name v-x netns ns-blue type veth peer name eth0",
      "File exists",
    );
    // eth0 is a veth here (the lab's uplink), but not a pair with v-x: adopt would not take it either.
    expect(error.message).toMatch(
      /veth "eth0" already exists without "v-x" as its peer; not taken over/,
    );
    expect(await link(ctx.h, undefined, "eth0")).toEqual(eth0);
    expect(await end(BLUE, "v-x")).toBeUndefined();
  });

  it('creates a pair whose end a is named exactly "up", a valid name that is also a word of ip(8), and nothing else', async () => {
    await addNamespace(ctx.h, "ns-words");
    try {
      const d = veth();
      const inputs = await d.check({
        a: { name: "up", namespace: "ns-words" },
        b: { name: "up-peer", namespace: "ns-words" },
      });
      const outcome = await d.createOutcome(inputs);
      const names = (await links(ctx.h, "ns-words")).map((l) => l.ifname).sort();
      expect({ outcome, names }).toEqual({
        outcome: { id: "ns-words/up~ns-words/up-peer", error: undefined },
        names: ["lo", "up", "up-peer"],
      });
    } finally {
      await removeNamespace(ctx.h, "ns-words");
    }
  });

  it("left nothing of its own on the host or in the namespaces", async () => {
    expect(await world()).toEqual({
      host: ["br-v", "br-w", "eth0", "lo"],
      [BLUE]: ["lo"],
      [RED]: ["br-r", "lo"],
    });
  });

  it("used one pooled SSH connection for every operation in this file", () => {
    expect(connectionsOpened(ctx)).toBe(1);
  });
});
