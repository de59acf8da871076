import { describe, expect, it } from "vitest";
import {
  bridgeSegment,
  candidateGateways,
  chooseKeeper,
  duplicateAddresses,
  guessVethNames,
  mtuMismatches,
  rpFilterMode,
  segmentFrom,
} from "../../../provider/doctor/logic";
import { type Link, findLink } from "../../../provider/doctor/world";
import { recordedWorld } from "./replay";

const world = recordedWorld("graph-live.json");
const br0 = findLink(world, undefined, "br0")!;

function link(name: string, patch: Partial<Link> = {}): Link {
  return { name, ifindex: 1, flags: ["UP"], mtu: 1500, operstate: "UP", inet: [], ...patch };
}

describe("segments", () => {
  it("a bridge holds itself and the far end of each port", () => {
    const s = bridgeSegment(world, br0);
    expect(
      s.members.map(
        (m) => `${m.link.namespace ?? "host"}/${m.link.name} via ${m.port?.name ?? "-"}`,
      ),
    ).toEqual([
      "host/br0 via -",
      "ns-blue/veth-blue via veth-blue-br",
      "ns-green/veth-green via veth-green-br",
    ]);
    expect(s.external).toEqual([]);
  });

  it("from a namespace's veth, the segment is the bridge its peer is a port of", () => {
    expect(segmentFrom(world, findLink(world, "ns-blue", "veth-blue")!)?.label).toBe("br0");
  });

  it("offers the bridge first as a gateway, then the other namespaces on it", () => {
    expect(
      candidateGateways(world, findLink(world, "ns-blue", "veth-blue")!).map((l) => l.name),
    ).toEqual(["br0", "veth-green"]);
  });
});

describe("chooseKeeper", () => {
  const a = {
    link: link("veth-green", {
      namespace: "ns-green",
      inet: [{ address: "10.0.0.2", prefixlen: 24 }],
    }),
  };
  const b = {
    link: link("veth-red", { namespace: "ns-red", inet: [{ address: "10.0.0.2", prefixlen: 24 }] }),
  };
  const bridge = {
    link: link("br0", { kind: "bridge", inet: [{ address: "10.0.0.254", prefixlen: 24 }] }),
  };
  const red254 = {
    link: link("veth-red", {
      namespace: "ns-red",
      inet: [{ address: "10.0.0.254", prefixlen: 24 }],
    }),
  };
  const ctx = { dst: "10.0.0.2", src: "10.0.0.1", srcNs: "ns-blue" };
  it.each([
    [
      "the destination's namespace for the destination",
      [b, a],
      { ...ctx, dstNs: "ns-green" },
      "ns-green",
    ],
    [
      "the router for a gateway",
      [red254, bridge],
      { ...ctx, dst: "8.8.8.8", gatewayNs: "\0host" },
      undefined,
    ],
    [
      "the bridge when nothing else decides",
      [red254, bridge],
      { ...ctx, dst: "8.8.8.8" },
      undefined,
    ],
    ["the first otherwise", [b, a], { ...ctx, dst: "8.8.8.8" }, "ns-red"],
  ] as const)("picks %s", (_label, owners, c, want) => {
    expect(chooseKeeper(owners, c).link.namespace).toBe(want);
  });
});

describe("duplicateAddresses", () => {
  it("finds an address held twice on one segment, once per segment", () => {
    const seg = {
      kind: "bridge" as const,
      label: "br0",
      members: [
        { link: link("br0", { inet: [{ address: "10.0.0.254", prefixlen: 24 }] }) },
        {
          link: link("veth-red", {
            namespace: "ns-red",
            inet: [{ address: "10.0.0.254", prefixlen: 24 }],
          }),
        },
        {
          link: link("veth-blue", {
            namespace: "ns-blue",
            inet: [{ address: "10.0.0.1", prefixlen: 24 }],
          }),
        },
      ],
      external: [],
    };
    const d = duplicateAddresses([seg, seg]);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ address: "10.0.0.254", segment: "br0" });
    expect(d[0]!.holders.map((l) => l.name)).toEqual(["br0", "veth-red"]);
  });

  it("finds nothing in the recorded lab network", () => {
    expect(duplicateAddresses([bridgeSegment(world, br0)])).toEqual([]);
  });
});

describe("mtuMismatches", () => {
  const rows: [string, [string, number, string?][], number | undefined, string[]][] = [
    [
      "agreeing links",
      [
        ["a", 1500],
        ["b", 1500],
      ],
      undefined,
      [],
    ],
    [
      "a lowered bridge port",
      [
        ["veth-blue", 1500],
        ["veth-blue-br", 1300],
        ["veth-green-br", 1500],
        ["veth-green", 1500],
      ],
      1500,
      ["veth-blue-br"],
    ],
    [
      "a raised namespace end",
      [
        ["veth-blue", 9000],
        ["veth-blue-br", 1500],
        ["br0", 1500, "bridge"],
      ],
      1500,
      ["veth-blue"],
    ],
    [
      "a tie, which goes to the larger",
      [
        ["a", 1400],
        ["b", 1500],
      ],
      1500,
      ["a"],
    ],
    [
      "a bridge that alone differs",
      [
        ["a", 1500],
        ["br0", 1400, "bridge"],
        ["b", 1500],
      ],
      1500,
      ["br0"],
    ],
    [
      "a bridge that follows its low port",
      [
        ["a", 1500],
        ["p", 1300],
        ["br0", 1300, "bridge"],
        ["b", 1500],
        ["c", 1500],
      ],
      1500,
      ["p"],
    ],
  ];
  it.each(rows)("%s", (_label, links, target, fix) => {
    const problems = mtuMismatches([
      { segment: "s", links: links.map(([n, mtu, kind]) => link(n, { mtu, kind })) },
    ]);
    expect(problems[0]?.target).toBe(target);
    expect((problems[0]?.fix ?? []).map((l) => l.name)).toEqual(fix);
  });
});

describe("rpFilterMode", () => {
  it.each([
    ["0", "0", 0],
    ["0", "1", 1],
    ["1", "0", 1],
    ["2", "1", 2],
    ["1", "2", 2],
    [undefined, "1", 1],
    [undefined, undefined, 0],
  ] as const)("all=%s, iface=%s is %s", (all, iface, want) => {
    expect(rpFilterMode(all, iface)).toBe(want);
  });
});

describe("guessVethNames", () => {
  it.each([
    ["ns-blue", [], ["veth-blue", "veth-blue-br"]],
    ["ns-a-very-long-name", [], ["veth-a-very-", "veth-a-very--br"]],
    ["ns-blue", ["veth-blue"], ["veth-blue1", "veth-blue1-br"]],
    ["pod", [], ["veth-pod", "veth-pod-br"]],
  ] as const)("names the pair for %s (taken: %j)", (ns, taken, want) => {
    const [a, b] = guessVethNames(ns, new Set(taken));
    expect([a, b]).toEqual(want);
    expect(Buffer.byteLength(b)).toBeLessThanOrEqual(15);
  });
});
