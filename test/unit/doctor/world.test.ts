import { describe, expect, it } from "vitest";
import {
  type Link,
  type World,
  findLink,
  inNetwork,
  isPrivate,
  linkByMac,
  networkOf,
  ownersOf,
  parseLinks,
  parseNsids,
  vethPeer,
} from "../../../provider/doctor/world";
import { recordedWorld } from "./replay";

const world = recordedWorld("graph-live.json");

describe("parseLinks", () => {
  it("reads a veth end in a namespace: its peer's ifindex and netnsid, its address", () => {
    const blue = findLink(world, "ns-blue", "veth-blue")!;
    expect(blue).toMatchObject({ namespace: "ns-blue", kind: "veth", peerNetnsid: 0, mtu: 1500 });
    expect(blue.inet).toEqual([{ address: "10.0.0.1", prefixlen: 24 }]);
    expect(blue.flags).toContain("UP");
  });

  it("reads a bridge port's master and STP state", () => {
    expect(findLink(world, undefined, "veth-blue-br")).toMatchObject({
      master: "br0",
      portState: "forwarding",
      kind: "veth",
    });
  });

  it("reads a bridge's own nf_call_iptables option", () => {
    expect(findLink(world, undefined, "br0")).toMatchObject({
      kind: "bridge",
      bridgeNfCallIptables: false,
    });
  });

  it("leaves IPv6 addresses out and takes an empty answer as no links", () => {
    expect(findLink(world, undefined, "veth-blue-br")!.inet).toEqual([]);
    expect(parseLinks("", undefined)).toEqual([]);
  });

  it("maps netnsids to names, an unnamed namespace to an empty name", () => {
    expect([...parseNsids(`[{"nsid":0},{"nsid":1,"name":"ns-blue"}]`)]).toEqual([
      [0, ""],
      [1, "ns-blue"],
    ]);
  });
});

describe("vethPeer", () => {
  it.each([
    ["ns-blue", "veth-blue", undefined, "veth-blue-br"],
    [undefined, "veth-blue-br", "ns-blue", "veth-blue"],
    [undefined, "veth-green-br", "ns-green", "veth-green"],
  ] as const)("finds the other end of %s/%s", (ns, name, peerNs, peerName) => {
    const peer = vethPeer(world, findLink(world, ns, name)!) as Link;
    expect(peer.namespace).toBe(peerNs);
    expect(peer.name).toBe(peerName);
  });

  it("says unknown for a peer in a namespace with no name (a lab host's eth0)", () => {
    expect(vethPeer(world, findLink(world, undefined, "eth0")!)).toBe("unknown");
  });

  it("uses the netnsid when two namespaces have a matching ifindex", () => {
    const link = (
      namespace: string | undefined,
      name: string,
      ifindex: number,
      peer: number,
      nsid: number,
    ): Link => ({
      namespace,
      name,
      ifindex,
      flags: ["UP"],
      mtu: 1500,
      operstate: "UP",
      kind: "veth",
      peerIfindex: peer,
      peerNetnsid: nsid,
      inet: [],
    });
    const w: World = {
      namespaces: [
        {
          name: undefined,
          links: [link(undefined, "h", 7, 2, 5)],
          nsids: new Map([
            [5, "b"],
            [6, "a"],
          ]),
        },
        { name: "a", links: [link("a", "x", 2, 7, 0)], nsids: new Map([[0, ""]]) },
        { name: "b", links: [link("b", "y", 2, 7, 0)], nsids: new Map([[0, ""]]) },
      ],
    };
    expect((vethPeer(w, w.namespaces[0]!.links[0]!) as Link).name).toBe("y");
  });
});

describe("addresses", () => {
  it("finds every holder of an address, and a link by MAC", () => {
    expect(ownersOf(world, "10.0.0.254").map((l) => l.name)).toEqual(["br0"]);
    const br0 = findLink(world, undefined, "br0")!;
    expect(linkByMac(world, br0.mac!.toUpperCase())?.name).toBe("br0");
  });

  it.each([
    ["10.0.0.7", { address: "10.0.0.254", prefixlen: 24 }, true],
    ["10.0.1.7", { address: "10.0.0.254", prefixlen: 24 }, false],
    ["not an address", { address: "10.0.0.254", prefixlen: 24 }, false],
  ] as const)("inNetwork(%s, %j) is %s", (a, inet, want) => {
    expect(inNetwork(a, inet)).toBe(want);
  });

  it.each([
    ["10.0.0.1", true],
    ["172.16.5.4", true],
    ["192.168.1.1", true],
    ["100.64.0.1", true],
    ["8.8.8.8", false],
  ] as const)("isPrivate(%s) is %s", (a, want) => {
    expect(isPrivate(a)).toBe(want);
  });

  it("gives the network of an interface address", () => {
    expect(networkOf({ address: "10.0.0.254", prefixlen: 24 })).toBe("10.0.0.0/24");
  });
});
