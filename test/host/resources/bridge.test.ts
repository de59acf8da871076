/**
 * Bridge on a real lab host over real SSH, driven through the dynamic
 * provider, on the host itself and inside a router namespace.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Driver,
  addNamespace,
  connectionsOpened,
  addresses,
  expectUserError,
  inNs,
  ipIn,
  labelled,
  link,
  linkState,
  links,
  namespaces,
  oob,
  removeNamespace,
  rules,
  useLabHost,
} from "../support";

const ctx = useLabHost("tres2");
const bridge = () => new Driver("Bridge", ctx);
const NS = "ns-rtr";

/** The bridge as the host has it, seen out of band, with its forwarding rule. */
async function onHost(ns: string | undefined, name: string) {
  const seen = await linkState(ctx.h, ns, name);
  if (!seen) return undefined;
  const forward = (await rules(ctx.h, ns, "filter", "FORWARD")).filter((r) =>
    r.includes(`linuxnet:bridge:${name}`),
  );
  return { ...seen, forward };
}

beforeAll(async () => {
  await addNamespace(ctx.h, NS);
});

afterAll(async () => {
  if (ctx.h) await removeNamespace(ctx.h, NS);
});

describe("Bridge", () => {
  it.each(
    labelled([
      { label: "on the host itself", namespace: undefined },
      { label: "inside a router namespace", namespace: NS },
    ]),
  )(
    "creates a bridge with its address, MTU and forwarding rule %s, reads it back unchanged and deletes it",
    async (_label, { namespace }) => {
      const d = bridge();
      const res = await d.create({
        name: "br0",
        namespace,
        addresses: ["10.50.0.254/24"],
        mtu: 1400,
        acceptForwarding: true,
      });
      expect(res.id).toBe(`${namespace ?? ""}/br0`);
      expect(await onHost(namespace, "br0")).toEqual({
        kind: "bridge",
        up: true,
        mtu: 1400,
        addresses: ["10.50.0.254/24"],
        forward: ['-A FORWARD -i br0 -o br0 -m comment --comment "linuxnet:bridge:br0" -j ACCEPT'],
      });
      await d.expectNoDrift(res);

      await d.delete(res);
      expect(await onHost(namespace, "br0")).toBeUndefined();
      expect(await rules(ctx.h, namespace, "filter", "FORWARD")).toEqual([]);
      await d.delete(res);
      expect(await onHost(namespace, "br0")).toBeUndefined();
    },
  );

  it.each(
    labelled([
      {
        label: "adds an address",
        before: { addresses: ["10.50.0.254/24"] },
        after: { addresses: ["10.50.0.254/24", "10.50.1.254/24"] },
        expected: { addresses: ["10.50.0.254/24", "10.50.1.254/24"] },
      },
      {
        label: "removes an address",
        before: { addresses: ["10.50.0.254/24", "10.50.1.254/24"] },
        after: { addresses: ["10.50.1.254/24"] },
        expected: { addresses: ["10.50.1.254/24"] },
      },
      {
        label: "moves to another address",
        before: { addresses: ["10.50.0.254/24"] },
        after: { addresses: ["10.50.0.1/24"] },
        expected: { addresses: ["10.50.0.1/24"] },
      },
      {
        label: "changes the MTU",
        before: { mtu: 1500 },
        after: { mtu: 1280 },
        expected: { mtu: 1280 },
      },
      {
        label: "takes it down",
        before: { up: true },
        after: { up: false },
        expected: { up: false },
      },
      {
        label: "brings it up",
        before: { up: false },
        after: { up: true },
        expected: { up: true },
      },
      {
        label: "turns acceptForwarding on",
        before: { acceptForwarding: false },
        after: { acceptForwarding: true },
        expected: {
          forward: [
            '-A FORWARD -i br-u -o br-u -m comment --comment "linuxnet:bridge:br-u" -j ACCEPT',
          ],
        },
      },
      {
        label: "turns acceptForwarding off",
        before: { acceptForwarding: true },
        after: { acceptForwarding: false },
        expected: { forward: [] },
      },
    ]),
  )("%s in place, and the host shows it", async (_label, { before, after, expected }) => {
    const d = bridge();
    const base = { name: "br-u", namespace: NS };
    const res = await d.create({ ...base, ...before });
    const updated = await d.update(res, { ...base, ...after });
    expect(await onHost(NS, "br-u")).toMatchObject({ kind: "bridge", ...expected });
    await d.expectNoDrift(updated);
    await d.delete(updated);
    expect(await onHost(NS, "br-u")).toBeUndefined();
  });

  it.each(
    labelled([
      {
        label: "an address removed",
        change: [ipIn(NS, "addr", "del", "10.50.1.254/24", "dev", "br-d")],
        expected: { addresses: ["10.50.0.254/24"] },
      },
      {
        label: "an address added",
        change: [ipIn(NS, "addr", "add", "10.50.9.9/24", "dev", "br-d")],
        expected: { addresses: ["10.50.0.254/24", "10.50.1.254/24", "10.50.9.9/24"] },
      },
      {
        label: "its MTU changed",
        change: [ipIn(NS, "link", "set", "br-d", "mtu", "1300")],
        expected: { mtu: 1300 },
      },
      {
        label: "taken down",
        change: [ipIn(NS, "link", "set", "br-d", "down")],
        expected: { up: false },
      },
      {
        label: "its forwarding rule deleted",
        change: [
          inNs(NS, [
            ...["iptables", "-w", "-D", "FORWARD", "-i", "br-d", "-o", "br-d"],
            ...["-m", "comment", "--comment", "linuxnet:bridge:br-d", "-j", "ACCEPT"],
          ]),
        ],
        expected: { acceptForwarding: false },
      },
    ]),
  )("reads a bridge with %s out of band as drift", async (_label, { change, expected }) => {
    const d = bridge();
    const res = await d.create({
      name: "br-d",
      namespace: NS,
      addresses: ["10.50.0.254/24", "10.50.1.254/24"],
      mtu: 1500,
      acceptForwarding: true,
    });
    for (const argv of change) await oob(ctx.h, argv);
    const props = await d.read(res);
    expect(props).toMatchObject(expected);
    // The drift is a diff: the next `up` puts it back.
    const diff = await d.provider.diff!(res.id, props!, res.inputs);
    expect(diff.changes).toBe(true);
    expect(diff.replaces ?? []).toEqual([]);
    await d.delete(res);
    expect(await onHost(NS, "br-d")).toBeUndefined();
  });

  it.each(
    labelled([
      { label: "deleted", replace: [] as string[][] },
      {
        label: "replaced by a link of another kind",
        replace: [ipIn(NS, "link", "add", "br-g", "type", "ifb")],
      },
    ]),
  )("reads a bridge %s out of band as gone", async (_label, { replace }) => {
    const d = bridge();
    const res = await d.create({ name: "br-g", namespace: NS, addresses: ["10.50.0.254/24"] });
    await oob(ctx.h, ipIn(NS, "link", "del", "br-g"));
    for (const argv of replace) await oob(ctx.h, argv);
    expect(await d.read(res)).toBeUndefined();
    await oob(ctx.h, ipIn(NS, "link", "del", "br-g")).catch(() => undefined);
  });

  it("deletes a bridge whose namespace is already gone without failing", async () => {
    await addNamespace(ctx.h, "ns-brief");
    const d = bridge();
    const res = await d.create({ name: "br0", namespace: "ns-brief", acceptForwarding: true });
    await oob(ctx.h, ["ip", "netns", "delete", "ns-brief"]);
    expect(await d.read(res)).toBeUndefined();
    await d.delete(res);
    expect(await namespaces(ctx.h)).not.toContain("ns-brief");
  });

  it.each(
    labelled([
      { label: "an IPv6 one before an IPv4 one", addrs: ["fd00:52::1/64", "10.52.0.1/24"] },
      {
        label: "a second address in the first one's subnet before another subnet",
        addrs: ["10.52.0.1/24", "10.52.0.2/24", "10.53.0.1/24"],
      },
    ]),
  )(
    "reads back addresses given as %s as no drift, in whatever order the kernel lists them",
    async (_label, { addrs }) => {
      const d = bridge();
      const res = await d.create({ name: "br-o", namespace: NS, addresses: addrs });
      try {
        expect([...(await addresses(ctx.h, NS, "br-o"))].sort()).toEqual([...addrs].sort());
        await d.expectNoDrift(res);
      } finally {
        await d.delete(res);
      }
    },
  );

  it("undoes a bridge whose IPv6 address the kernel refuses part-way through create, leaving nothing behind", async () => {
    await addNamespace(ctx.h, "ns-no6");
    try {
      await oob(ctx.h, inNs("ns-no6", ["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]));
      const before = await links(ctx.h, "ns-no6");
      const error = await bridge().createFails({
        name: "br6",
        namespace: "ns-no6",
        addresses: ["10.51.0.1/24", "fd00:51::1/64"],
        acceptForwarding: true,
      });
      expectUserError(
        error,
        ctx.h,
        "ip -n ns-no6 addr add fd00:51::1/64 dev br6",
        "IPv6 is disabled on this device",
      );
      expect(await link(ctx.h, "ns-no6", "br6")).toBeUndefined();
      expect((await links(ctx.h, "ns-no6")).map((l) => l.ifname)).toEqual(
        before.map((l) => l.ifname),
      );
      expect(await rules(ctx.h, "ns-no6", "filter")).toEqual([]);
    } finally {
      await removeNamespace(ctx.h, "ns-no6");
    }
  });

  it("refuses a bridge in a namespace that does not exist, with the kernel's words", async () => {
    const error = await bridge().createFails({ name: "br0", namespace: "ns-ghost" });
    expectUserError(
      error,
      ctx.h,
      "ip -n ns-ghost link add name br0 type bridge",
      'Cannot open network namespace "ns-ghost"',
    );
    expect(await namespaces(ctx.h)).not.toContain("ns-ghost");
  });

  it("refuses a br0 that exists but is not a bridge, and leaves it untouched", async () => {
    // This kernel has no dummy driver; an ifb link is just as much "not a bridge".
    await oob(ctx.h, ipIn(NS, "link", "add", "br0", "type", "ifb"));
    await oob(ctx.h, ipIn(NS, "addr", "add", "10.54.0.1/24", "dev", "br0"));
    const before = await link(ctx.h, NS, "br0");
    try {
      const error = await bridge().createFails({
        name: "br0",
        namespace: NS,
        addresses: ["10.50.0.254/24"],
      });
      expectUserError(error, ctx.h, `ip -n ${NS} link add name br0 type bridge`, "File exists");
      expect(error.message).toMatch(
        /"br0" already exists but is not a bridge \(it is a ifb link\)/,
      );
      const after = await link(ctx.h, NS, "br0");
      expect(after).toEqual(before);
      expect(after?.linkinfo?.info_kind).toBe("ifb");
      expect(await addresses(ctx.h, NS, "br0")).toEqual(["10.54.0.1/24"]);
    } finally {
      await oob(ctx.h, ipIn(NS, "link", "del", "br0"));
    }
  });

  it("refuses a bridge of someone else's with the same name, and leaves it untouched", async () => {
    await oob(ctx.h, ipIn(NS, "link", "add", "br-theirs", "type", "bridge"));
    await oob(ctx.h, ipIn(NS, "addr", "add", "10.55.0.1/24", "dev", "br-theirs"));
    try {
      const error = await bridge().createFails({ name: "br-theirs", namespace: NS, up: true });
      expectUserError(
        error,
        ctx.h,
        `ip -n ${NS} link add name br-theirs type bridge`,
        "File exists",
      );
      expect(error.message).toMatch(/already exists and is not managed by this stack/);
      expect(await onHost(NS, "br-theirs")).toMatchObject({
        kind: "bridge",
        up: false,
        addresses: ["10.55.0.1/24"],
      });
    } finally {
      await oob(ctx.h, ipIn(NS, "link", "del", "br-theirs"));
    }
  });

  it.each(
    labelled([
      { label: "up", name: "up" },
      { label: "br", name: "br" },
    ]),
  )(
    'creates a bridge named exactly "%s", a valid name that is also a word of ip(8), and nothing else',
    async (_label, { name }) => {
      await addNamespace(ctx.h, "ns-words");
      try {
        const d = bridge();
        // Check accepts it: 1-15 bytes of letters.
        const inputs = await d.check({ name, namespace: "ns-words" });
        expect(inputs.name).toBe(name);
        const outcome = await d.createOutcome(inputs);
        const names = (await links(ctx.h, "ns-words")).map((l) => l.ifname).sort();
        expect({ outcome, names }).toEqual({
          outcome: { id: `ns-words/${name}`, error: undefined },
          names: [name, "lo"].sort(),
        });
      } finally {
        await removeNamespace(ctx.h, "ns-words");
      }
    },
  );

  it("left nothing of its own in the router namespace", async () => {
    expect((await links(ctx.h, NS)).map((l) => l.ifname)).toEqual(["lo"]);
    expect(await rules(ctx.h, NS, "filter")).toEqual([]);
    expect((await links(ctx.h)).map((l) => l.ifname).sort()).toEqual(["eth0", "lo"]);
  });

  it("used one pooled SSH connection for every operation in this file", () => {
    expect(connectionsOpened(ctx)).toBe(1);
  });
});
