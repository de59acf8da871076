import { describe, expect, it } from "vitest";
import {
  type Topology,
  layers,
  parseNatRules,
  stackResources,
  toMermaid,
  toSvg,
  topologyFromSnapshot,
  topologyFromStack,
} from "../../../provider/doctor/graph";
import { fixture, recordedSnapshot } from "./replay";

const exported = fixture("lab-stack-export.json");
/** The live host's picture, from the snapshot recorded on a lab host. */
function liveTopology(): Topology {
  return topologyFromSnapshot("host 10.213.175.11", recordedSnapshot("graph-live.json"));
}

describe("the stack's picture", () => {
  const t = topologyFromStack(exported);

  it("reads the linuxnet resources of a stack export and nothing else", () => {
    expect(stackResources(exported)).toHaveLength(10);
    expect(t.namespaces).toEqual(["ns-blue", "ns-green", undefined]);
    expect(t.interfaces.map((i) => `${i.namespace ?? "host"}/${i.name}`).sort()).toEqual([
      "host/br0",
      "host/eth0",
      "host/veth-blue-br",
      "host/veth-green-br",
      "ns-blue/veth-blue",
      "ns-green/veth-green",
    ]);
    expect(t.routes).toEqual([
      { namespace: "ns-blue", destination: "default", via: "10.0.0.254", dev: undefined },
      { namespace: "ns-green", destination: "default", via: "10.0.0.254", dev: undefined },
    ]);
    expect(t.nat).toEqual([
      {
        id: "nat::0",
        namespace: undefined,
        source: "10.0.0.0/24",
        outInterface: "eth0",
        target: "MASQUERADE",
      },
    ]);
  });

  it("links veth ends (namespace end first), bridge ports and NAT", () => {
    expect(t.edges).toContainEqual({
      from: "ns-blue/veth-blue",
      to: "/veth-blue-br",
      kind: "veth",
    });
    expect(t.edges).toContainEqual({ from: "/veth-blue-br", to: "/br0", kind: "port" });
    expect(t.edges).toContainEqual({ from: "nat::0", to: "/eth0", kind: "nat" });
  });

  it("never reads a secret: the connection's ciphertext is not in the picture", () => {
    const all = JSON.stringify(t) + toMermaid(t) + toSvg(t);
    expect(all).not.toContain("ciphertext");
    expect(all).not.toContain("REDACTED");
  });

  it("accepts a checkpoint file and a bare list too, and refuses anything else", () => {
    const resources = (exported as { deployment: { resources: unknown[] } }).deployment.resources;
    expect(topologyFromStack({ checkpoint: { latest: { resources } } }).interfaces).toHaveLength(6);
    expect(topologyFromStack(resources).interfaces).toHaveLength(6);
    expect(() => topologyFromStack({ hello: 1 })).toThrow(/not a stack export/);
  });

  it("draws Mermaid: a subgraph per namespace, bridges as hexagons, veths as two-way links", () => {
    const m = toMermaid(t);
    expect(m.split("\n")[0]).toBe("flowchart LR");
    expect(m).toContain(`subgraph ns0["ns-blue"]`);
    expect(m).toContain(`subgraph ns2["host"]`);
    expect(m).toMatch(/n\d+\{\{"br0<br\/>10\.0\.0\.254\/24"\}\}/);
    expect(m).toMatch(/n\d+\(\["eth0"\]\)/);
    expect(m).toMatch(/n\d+ <-->\|veth\| n\d+/);
    expect(m).toMatch(/n\d+ -\.->\|SNAT\| n\d+/);
    expect(m).toContain(`[/"default via 10.0.0.254"/]`);
  });

  it("escapes quotes and angle brackets in Mermaid labels", () => {
    const odd: Topology = {
      ...t,
      interfaces: [{ id: "x", name: `a"b<c>`, kind: "veth", addresses: [] }],
      namespaces: [undefined],
      routes: [],
      nat: [],
      edges: [],
    };
    expect(toMermaid(odd)).toContain(`a#quot;b#lt;c#gt;`);
  });
});

describe("the live host's picture", () => {
  const t = liveTopology();

  it("holds the namespaces, the bridge, its ports and the uplink", () => {
    expect(t.namespaces).toEqual(["ns-blue", "ns-green", undefined]);
    const eth0 = t.interfaces.find((i) => i.name === "eth0");
    expect(eth0).toMatchObject({
      namespace: undefined,
      external: true,
      addresses: ["10.213.175.11/24"],
    });
    expect(t.edges.filter((e) => e.kind === "veth")).toHaveLength(2);
    expect(t.edges.filter((e) => e.kind === "port").map((e) => e.to)).toEqual(["/br0", "/br0"]);
  });

  it("leaves out the kernel's connected routes and keeps the default routes", () => {
    expect(t.routes.map((r) => `${r.namespace}: ${r.destination} via ${r.via}`)).toEqual([
      "ns-blue: default via 10.0.0.254",
      "ns-green: default via 10.0.0.254",
    ]);
  });

  it("finds the MASQUERADE rule", () => {
    expect(t.nat).toEqual([
      {
        id: "nat::0",
        namespace: undefined,
        source: "10.0.0.0/24",
        outInterface: "eth0",
        target: "MASQUERADE",
      },
    ]);
  });

  it("lays out namespaces' ends, then their peers, then the bridge, then the uplink and NAT", () => {
    const rank = layers(t);
    expect(rank.get("ns-blue/veth-blue")).toBe(0);
    expect(rank.get("/veth-blue-br")).toBe(1);
    expect(rank.get("/br0")).toBe(2);
    expect(rank.get("/eth0")).toBe(3);
    expect(rank.get("nat::0")).toBe(4);
  });

  it("draws an SVG with a box per namespace and a node per interface", () => {
    const svg = toSvg(t);
    expect(
      svg.startsWith(
        `<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg"`,
      ),
    ).toBe(true);
    expect(svg.match(/<g class="namespace">/g)).toHaveLength(3);
    expect(svg.match(/<g class="node /g)).toHaveLength(7);
    expect(svg.match(/<path class="edge veth"/g)).toHaveLength(2);
    expect(svg).toContain(">host 10.213.175.11</text>");
    // Well formed enough for any viewer: every group closed, no raw ampersand.
    expect(svg.match(/<g /g)?.length).toBe(svg.match(/<\/g>/g)?.length);
    expect(svg).not.toMatch(/&(?!amp;|lt;|gt;|quot;)/);
  });
});

describe("parseNatRules", () => {
  it.each([
    [
      "MASQUERADE with source and out interface",
      "-A POSTROUTING -s 10.0.0.0/24 -o eth0 -j MASQUERADE",
      [{ source: "10.0.0.0/24", outInterface: "eth0", target: "MASQUERADE" }],
    ],
    [
      "SNAT without an interface",
      "-A POSTROUTING -s 10.1.0.0/16 -j SNAT --to-source 192.0.2.1",
      [{ source: "10.1.0.0/16", outInterface: undefined, target: "SNAT" }],
    ],
    [
      "a negated out interface, not an out interface",
      "-A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE",
      [{ source: "10.0.0.0/24", outInterface: undefined, target: "MASQUERADE" }],
    ],
    ["a RETURN, which is not NAT", "-A POSTROUTING -d 10.0.0.0/8 -j RETURN", []],
  ] as const)("reads %s", (_label, line, want) => {
    expect(
      parseNatRules(`-P POSTROUTING ACCEPT\n${line}\n`, undefined).map(
        ({ source, outInterface, target }) => ({ source, outInterface, target }),
      ),
    ).toEqual(want);
  });
});

describe("a VXLAN segment in the stack's picture", () => {
  const vxlan = (outputs: Record<string, unknown>) => ({
    type: "pulumi-nodejs:dynamic/linuxnet:Vxlan",
    outputs,
  });
  const t = topologyFromStack([
    { type: "pulumi-nodejs:dynamic/linuxnet:Bridge", outputs: { name: "br-east" } },
    vxlan({
      name: "vx-seg",
      vni: 42,
      bridge: "br-east",
      remotes: ["10.213.0.12", "10.213.0.13"],
      addresses: [],
    }),
    vxlan({ name: "vx-mc", vni: 7, group: "239.1.1.1", remotes: [] }),
  ]);

  it("draws the device as a port of its bridge and a tunnel to each remote (or its group)", () => {
    expect(t.edges).toContainEqual({ from: "/vx-seg", to: "/br-east", kind: "port" });
    expect(t.edges).toContainEqual({
      from: "/vx-seg",
      to: "remote:10.213.0.12",
      kind: "tunnel",
      label: "vxlan vni 42",
    });
    expect(t.edges).toContainEqual({
      from: "/vx-seg",
      to: "remote:10.213.0.13",
      kind: "tunnel",
      label: "vxlan vni 42",
    });
    expect(t.edges).toContainEqual({
      from: "/vx-mc",
      to: "remote:239.1.1.1",
      kind: "tunnel",
      label: "vxlan vni 7",
    });
    expect(t.interfaces.find((i) => i.id === "remote:10.213.0.12")).toMatchObject({
      name: "remote 10.213.0.12",
      external: true,
    });
  });

  it("labels the tunnel in Mermaid and SVG", () => {
    expect(toMermaid(t)).toContain("<-.->|vxlan vni 42|");
    expect(toSvg(t)).toContain('class="edge tunnel"');
    expect(toSvg(t)).toContain(">vxlan vni 42</text>");
  });
});

describe("a shaped link in the stack's picture", () => {
  const shaping = (outputs: Record<string, unknown>) => ({
    type: "pulumi-nodejs:dynamic/linuxnet:LinkShaping",
    outputs,
  });
  const veth = {
    type: "pulumi-nodejs:dynamic/linuxnet:VethPair",
    outputs: { a: { name: "veth-blue", namespace: "ns-blue" }, b: { name: "veth-blue-br" } },
  };

  it.each([
    [
      "after the veth",
      [veth, shaping({ namespace: "ns-blue", device: "veth-blue", rate: "10mbit" })],
    ],
    [
      "before the veth",
      [shaping({ namespace: "ns-blue", device: "veth-blue", rate: "10mbit" }), veth],
    ],
  ])("labels the interface with its rate, whichever comes first (%s)", (_label, resources) => {
    const t = topologyFromStack({ deployment: { resources } });
    const shaped = t.interfaces.find((i) => i.name === "veth-blue");
    expect(shaped).toMatchObject({ kind: "veth", namespace: "ns-blue", shaping: "10mbit" });
    expect(shaped?.external).toBeUndefined();
    expect(toMermaid(t)).toContain("10mbit");
    expect(toSvg(t)).toContain("10mbit");
  });

  it("lists netem values after the rate", () => {
    const t = topologyFromStack({
      deployment: {
        resources: [shaping({ device: "eth0", rate: "1mbit", delay: "40ms", loss: 0.5 })],
      },
    });
    expect(t.interfaces[0]).toMatchObject({
      name: "eth0",
      shaping: "1mbit, delay 40ms, loss 0.5%",
    });
  });
});
