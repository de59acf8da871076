import { stableMac } from "../../../provider/resources/link";
import { describe, expect, it } from "vitest";
import {
  type VethInputs,
  planVethAdd,
  vethKind,
  vethMarkProblem,
  vethPeerProblem,
} from "../../../provider/resources/veth";
import type { LinkState } from "../../../provider/host/ip";
import { CONNECTION, PROVIDER_KEY, UNKNOWN, labelled, inputsFor } from "../support";

const inputs = inputsFor<VethInputs>("blue", {
  a: { name: "veth-blue", namespace: "ns-blue", addresses: ["10.0.0.1/24"] },
  b: { name: "veth-blue-br", bridge: "br0" },
});

describe("vethKind.check", () => {
  it("brings both ends up and gives an end without addresses an empty list", () => {
    const { inputs: out, failures } = vethKind.check(undefined, inputs());
    expect(failures).toEqual([]);
    expect(out.a).toEqual({
      name: "veth-blue",
      autoNamed: false,
      namespace: "ns-blue",
      addresses: ["10.0.0.1/24"],
      up: true,
    });
    expect(out.b).toEqual({
      name: "veth-blue-br",
      autoNamed: false,
      bridge: "br0",
      addresses: [],
      up: true,
    });
  });

  it("normalises each end's addresses", () => {
    const { inputs: out } = vethKind.check(
      undefined,
      inputs({ a: { name: "va", addresses: ["FD00::0001/64", "10.0.0.1/024"] } }),
    );
    expect(out.a.addresses).toEqual(["fd00::1/64", "10.0.0.1/24"]);
  });

  it("leaves a missing end out of its inputs, so the engine can show the failure", () => {
    const { b: _b, ...withoutB } = inputs();
    const { inputs: out, failures } = vethKind.check(undefined, withoutB as VethInputs);
    expect(failures.map((f) => f.property)).toEqual(["b"]);
    expect(Object.keys(out)).not.toContain("b");
  });

  it("keeps up false on an end", () => {
    expect(vethKind.check(undefined, inputs({ b: { name: "vb", up: false } })).inputs.b.up).toBe(
      false,
    );
  });

  it("names both ends within 15 bytes, apart from each other, when names are left out", () => {
    const { inputs: out, failures } = vethKind.check(
      undefined,
      inputs({ resourceName: "frontend-to-backend", a: {}, b: {} }),
    );
    expect(failures).toEqual([]);
    for (const end of [out.a, out.b]) {
      expect(end.autoNamed).toBe(true);
      expect(Buffer.byteLength(end.name)).toBeLessThanOrEqual(15);
    }
    expect(out.a.name).toMatch(/^frontend-[0-9a-f]{5}a$/);
    expect(out.b.name).toMatch(/^frontend-[0-9a-f]{5}b$/);
    expect(out.a.name).not.toBe(out.b.name);
  });

  it("keeps the names it generated before", () => {
    const olds = inputs({
      a: { name: "blue-11111a", autoNamed: true, addresses: [], up: true },
      b: { name: "blue-22222b", autoNamed: true, addresses: [], up: true },
    });
    const { inputs: out } = vethKind.check(olds, inputs({ a: {}, b: { bridge: "br0" } }));
    expect(out.a.name).toBe("blue-11111a");
    expect(out.b.name).toBe("blue-22222b");
  });

  it("accepts the same name for both ends in two namespaces", () => {
    const news = inputs({
      a: { name: "eth0", namespace: "x" },
      b: { name: "eth0", namespace: "y" },
    });
    expect(vethKind.check(undefined, news).failures).toEqual([]);
  });

  it.each(
    labelled([
      { label: "both on the host", a: { name: "v0" }, b: { name: "v0" } },
      {
        label: "both in one namespace",
        a: { name: "v0", namespace: "x" },
        b: { name: "v0", namespace: "x" },
      },
    ]),
  )("refuses the same name for both ends %s", (_label, { a, b }) => {
    expect(vethKind.check(undefined, inputs({ a, b })).failures).toEqual([
      { property: "b.name", reason: expect.stringMatching(/must differ from a\.name/) },
    ]);
  });

  it.each(
    labelled([
      { label: "end a is missing", over: { a: undefined }, property: "a" },
      { label: "end b is not an object", over: { b: "veth0" }, property: "b" },
      { label: "the MTU is out of range", over: { mtu: 10 }, property: "mtu" },
    ]),
  )("fails when %s", (_label, { over, property }) => {
    expect(vethKind.check(undefined, inputs(over)).failures.map((f) => f.property)).toEqual([
      property,
    ]);
  });

  it.each(
    labelled([
      { label: "a whole end", over: { a: UNKNOWN } },
      { label: "an end's name", over: { a: { name: UNKNOWN, namespace: "ns-blue" } } },
      {
        label: "both names, equal placeholders",
        over: { a: { name: UNKNOWN }, b: { name: UNKNOWN } },
      },
      { label: "an end's namespace", over: { a: { name: "va", namespace: UNKNOWN } } },
      { label: "an end's bridge", over: { b: { name: "vb", bridge: UNKNOWN } } },
      { label: "an end's addresses", over: { a: { name: "va", addresses: UNKNOWN } } },
      { label: "one address of an end", over: { a: { name: "va", addresses: [UNKNOWN] } } },
      { label: "an end's up", over: { a: { name: "va", up: UNKNOWN } } },
      { label: "the MTU", over: { mtu: UNKNOWN } },
      { label: "the connection's host", over: { connection: { ...CONNECTION, host: UNKNOWN } } },
    ]),
  )("lets an unknown value through in %s", (_label, { over }) => {
    expect(vethKind.check(undefined, inputs(over)).failures).toEqual([]);
  });
});

describe("vethKind.diff", () => {
  const olds = vethKind.check(undefined, inputs({ mtu: 1500 })).inputs;
  const none = { changes: false, replaces: [], deleteBeforeReplace: false };
  const update = { changes: true, replaces: [], deleteBeforeReplace: false };
  const end = (e: "a" | "b", over: Record<string, unknown>) => ({ [e]: { ...olds[e], ...over } });

  it.each(
    labelled([
      { label: "nothing for the same inputs", over: {}, diff: none },
      {
        label: "nothing when only the serialized provider differs",
        over: { [PROVIDER_KEY]: "v2" },
        diff: none,
      },
      {
        label: "nothing when only autoNamed differs",
        over: end("a", { autoNamed: true }),
        diff: none,
      },
      {
        label: "an update for an end's addresses",
        over: end("a", { addresses: ["10.0.0.2/24"] }),
        diff: update,
      },
      { label: "an update for an end's bridge", over: end("b", { bridge: "br1" }), diff: update },
      { label: "an update for an end's up", over: end("b", { up: false }), diff: update },
      { label: "an update for the MTU", over: { mtu: 9000 }, diff: update },
      {
        label: "an update for a rotated key",
        over: { connection: { ...CONNECTION, privateKey: "k2" } },
        diff: update,
      },
      {
        label: "a replacement of a, delete first, for a new name of a alone",
        over: end("a", { name: "veth-x" }),
        diff: { changes: true, replaces: ["a"], deleteBeforeReplace: true },
      },
      {
        label: "a replacement of a, delete first, for a new namespace of a",
        over: end("a", { namespace: "ns-red" }),
        diff: { changes: true, replaces: ["a"], deleteBeforeReplace: true },
      },
      {
        label: "a replacement of b, delete first, for a new namespace of b",
        over: end("b", { namespace: "ns-red" }),
        diff: { changes: true, replaces: ["b"], deleteBeforeReplace: true },
      },
      {
        label: "a replacement, new first, when both names change",
        over: { ...end("a", { name: "x1" }), ...end("b", { name: "x2" }) },
        diff: { changes: true, replaces: ["a", "b"], deleteBeforeReplace: false },
      },
      {
        label: "a replacement, delete first, for another host",
        over: { connection: { ...CONNECTION, host: "10.1.0.9" } },
        diff: { changes: true, replaces: ["connection"], deleteBeforeReplace: true },
      },
    ]),
  )("gives %s", (_label, { over, diff }) => {
    expect(vethKind.diff(olds, { ...olds, ...over } as VethInputs)).toEqual(diff);
  });

  it.each(
    labelled([
      { label: "missing", a: undefined },
      { label: "null", a: null },
      { label: "not known yet", a: UNKNOWN },
      { label: "a number", a: 5 },
    ]),
  )("replaces end a, without throwing, when it is %s", (_label, { a }) => {
    expect(vethKind.diff(olds, { ...olds, a } as unknown as VethInputs)).toEqual({
      changes: true,
      replaces: ["a"],
      deleteBeforeReplace: true,
    });
  });
});

describe("planVethAdd", () => {
  const end = (name: string, namespace?: string) => ({ name, namespace, addresses: [], up: true });
  it.each(
    labelled([
      {
        label: "both ends on the host",
        v: { a: end("va"), b: end("vb") },
        argv: ["ip", "link", "add", "name", "va", "type", "veth", "peer", "name", "vb"],
      },
      {
        label: "each end straight into its namespace",
        v: { a: end("va", "blue"), b: end("vb", "red") },
        argv: [
          "ip",
          "link",
          "add",
          "name",
          "va",
          "netns",
          "blue",
          "type",
          "veth",
          "peer",
          "name",
          "vb",
          "netns",
          "red",
        ],
      },
      {
        label: "one end in a namespace, the other on the host",
        v: { a: end("va", "blue"), b: end("vb") },
        argv: [
          "ip",
          "link",
          "add",
          "name",
          "va",
          "netns",
          "blue",
          "type",
          "veth",
          "peer",
          "name",
          "vb",
        ],
      },
      {
        label: "the MTU on both ends",
        v: { a: end("va"), b: end("vb"), mtu: 1400 },
        argv: [
          "ip",
          "link",
          "add",
          "name",
          "va",
          "mtu",
          "1400",
          "type",
          "veth",
          "peer",
          "name",
          "vb",
          "mtu",
          "1400",
        ],
      },
      {
        label: "namespaces and the MTU together",
        v: { a: end("va", "blue"), b: end("vb", "red"), mtu: 9000 },
        argv: [
          "ip",
          "link",
          "add",
          "name",
          "va",
          "netns",
          "blue",
          "mtu",
          "9000",
          "type",
          "veth",
          "peer",
          "name",
          "vb",
          "netns",
          "red",
          "mtu",
          "9000",
        ],
      },
    ]),
  )("creates %s", (_label, { v, argv }) => {
    // Each end's name is followed by its stable MAC (tested on its own in link.test.ts).
    const expected = [...argv];
    const peer = expected.lastIndexOf("name");
    expected.splice(peer + 2, 0, "address", stableMac(undefined, v.b.namespace, v.b.name));
    expected.splice(4 + 1, 0, "address", stableMac(undefined, v.a.namespace, v.a.name));
    expect(planVethAdd(v as VethInputs)).toEqual(expected);
  });
});

describe("an existing pair taken over", () => {
  // As `ip -json -details link show` prints them on this kernel.
  const veth = (over: Partial<LinkState>): LinkState => ({
    ifname: "x",
    flags: [],
    mtu: 1500,
    operstate: "DOWN",
    linkinfo: { info_kind: "veth" },
    ...over,
  });
  const a = { name: "va" };
  const b = { name: "vb", namespace: "ns1" };

  it("is one pair in one namespace when each names the other", () => {
    const same = { name: "vb" };
    expect(
      vethPeerProblem(a, veth({ ifindex: 5, link: "vb" }), same, veth({ ifindex: 4, link: "va" })),
    ).toBeUndefined();
    expect(
      vethPeerProblem(a, veth({ ifindex: 5, link: "vc" }), same, veth({ ifindex: 4, link: "vd" })),
    ).toMatch(/"va" and "vb" already exist but are not each other's peer \("va"'s peer is "vc"/);
  });

  it("is one pair across namespaces when each one's link_index is the other's ifindex, in the namespace named", () => {
    const seenA = veth({ ifindex: 3, link_index: 2, link_netnsid: 0 });
    const seenB = veth({ ifindex: 2, link_index: 3, link_netnsid: 0 });
    expect(vethPeerProblem(a, seenA, b, seenB)).toBeUndefined();
    expect(vethPeerProblem(a, seenA, b, seenB, new Map([[0, "ns1"]]))).toBeUndefined();
    // The id names another namespace: a's peer is an ifindex 2 elsewhere.
    expect(vethPeerProblem(a, seenA, b, seenB, new Map([[0, "ns2"]]))).toMatch(
      /not each other's peer/,
    );
    // b's peer is another link of the host.
    expect(
      vethPeerProblem(a, seenA, b, veth({ ifindex: 2, link_index: 7, link_netnsid: 0 })),
    ).toMatch(/"vb"'s is ifindex 7 in the namespace of id 0/);
    // b is another pair's end in the same namespace as its peer.
    expect(vethPeerProblem(a, seenA, b, veth({ ifindex: 2, link: "vd" }))).toMatch(
      /not each other's peer/,
    );
  });

  it("needs one ownership on both ends", () => {
    const mine = "linuxnet:p/s/VethPair/v";
    const with_ = (ifalias?: string) => veth(ifalias === undefined ? {} : { ifalias });
    expect(vethMarkProblem(a, with_(), b, with_())).toBeUndefined();
    expect(vethMarkProblem(a, with_("uplink"), b, with_())).toBeUndefined();
    expect(vethMarkProblem(a, with_(mine), b, with_(mine))).toBeUndefined();
    expect(vethMarkProblem(a, with_(), b, with_(mine))).toMatch(
      /carry different marks \("va": no mark, "vb": linuxnet:p\/s\/VethPair\/v\)/,
    );
    expect(vethMarkProblem(a, with_(mine), b, with_("linuxnet:p/t/VethPair/v"))).toMatch(
      /carry different marks/,
    );
  });
});
