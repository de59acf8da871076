/**
 * The deeper checks on a made-up world (two namespaces joined by a veth),
 * with facts given directly and every command answered "ok": what each
 * check decides, its id, and the fix it prints. The recorded nftables
 * ruleset and rules of fixtures/deep drive the nftables and rule checks.
 */

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { hostFromRun } from "../../../../provider/transport";
import type { HostFacts } from "../../../../provider/doctor/facts";
import { type WalkState, newWalk } from "../../../../provider/doctor/state";
import type { Link, World } from "../../../../provider/doctor/world";
import { checkLinks } from "../../../../provider/doctor/checks/links";
import { checkNeighbour } from "../../../../provider/doctor/checks/neigh";
import { checkNft } from "../../../../provider/doctor/checks/nft";
import { failByRule } from "../../../../provider/doctor/checks/rules";
import { parseNftRuleset } from "../../../../provider/doctor/nftrules";
import type { IpRule, Neighbour, TableRoute } from "../../../../provider/doctor/policy";

const fixture = (name: string) =>
  readFileSync(path.join(__dirname, "..", "fixtures", "deep", name), "utf8");

function link(ns: string, name: string, extra: Partial<Link> = {}): Link {
  return {
    namespace: ns,
    ifindex: 2,
    name,
    flags: ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"],
    mtu: 1500,
    operstate: "UP",
    kind: "veth",
    inet: [],
    ...extra,
  };
}

const A = link("ns-a", "a0", {
  mac: "02:00:00:00:00:0a",
  inet: [{ address: "10.7.0.1", prefixlen: 24 }],
});
const B = link("ns-b", "b0", {
  mac: "02:00:00:00:00:0b",
  inet: [{ address: "10.7.0.2", prefixlen: 24 }],
});

interface Given {
  links?: Link[];
  sysctl?: Record<string, string>;
  neigh?: Neighbour[];
  rules?: IpRule[];
  routes?: TableRoute[];
  nft?: string;
}

function walk(g: Given = {}): WalkState {
  const links = g.links ?? [A, B];
  const world: World = {
    namespaces: ["ns-a", "ns-b"].map((n) => ({
      name: n,
      links: links.filter((l) => l.namespace === n),
      nsids: new Map(),
    })),
  };
  const facts: HostFacts = {
    world,
    sysctl: (ns, file) => g.sysctl?.[`${ns}:${file}`],
    ipForward: () => true,
    table: () => ({ policies: new Map(), chains: new Map() }),
    neighbours: () => g.neigh ?? [],
    rules: () => g.rules,
    routes: () => g.routes ?? [],
    nft: () => (g.nft === undefined ? "nft: command not found" : parseNftRuleset(g.nft)),
  };
  const host = hostFromRun("test", async () => ({ stdout: "", stderr: "", exitCode: 0 }));
  const w = newWalk(host, facts, { from: { namespace: "ns-a" }, to: { address: "10.7.0.2" } });
  w.srcAddr = "10.7.0.1";
  w.dst = "10.7.0.2";
  return w;
}

const first = (w: WalkState) => w.checks.find((c) => c.status !== "ok");

describe("neighbour checks", () => {
  it("pass where both ends resolve and nothing is static", async () => {
    const w = walk();
    expect(await checkNeighbour(w, "ns-a", A, "10.7.0.2", B)).toBe(true);
    expect(w.checks.map((c) => `${c.status} ${c.id}`)).toEqual(["ok neigh.arp"]);
  });

  it.each([
    [
      "ARP off at the sender",
      { links: [{ ...A, flags: [...A.flags, "NOARP"] }, B] },
      "neigh.arp",
      "ip -n ns-a link set dev a0 arp on",
    ],
    [
      "ARP off at the next hop",
      { links: [A, { ...B, flags: [...B.flags, "NOARP"] }] },
      "neigh.arp",
      "ip -n ns-b link set dev b0 arp on",
    ],
    [
      "arp_ignore 8 on all",
      { sysctl: { "ns-b:net/ipv4/conf/all/arp_ignore": "8" } },
      "neigh.ignore",
      "ip netns exec ns-b sysctl -w net.ipv4.conf.all.arp_ignore=0",
    ],
    [
      "arp_ignore 2 with the asker outside the next hop's subnet",
      {
        links: [
          { ...A, inet: [{ address: "10.8.0.1", prefixlen: 16 }] },
          { ...B, inet: [{ address: "10.7.0.2", prefixlen: 24 }] },
        ],
        sysctl: { "ns-b:net/ipv4/conf/b0/arp_ignore": "2" },
      },
      "neigh.ignore",
      "ip netns exec ns-b sysctl -w net.ipv4.conf.b0.arp_ignore=0",
    ],
    [
      "arp_filter with the route back by another interface (none here)",
      { sysctl: { "ns-b:net/ipv4/conf/b0/arp_filter": "1" } },
      "neigh.filter",
      "ip netns exec ns-b sysctl -w net.ipv4.conf.b0.arp_filter=0",
    ],
    [
      "a wrong permanent entry",
      {
        neigh: [{ dst: "10.7.0.2", dev: "a0", lladdr: "02:00:00:00:00:99", state: ["PERMANENT"] }],
      },
      "neigh.static",
      "ip -n ns-a neigh del 10.7.0.2 dev a0",
    ],
    [
      "an arp family chain dropping at the next hop",
      {
        nft: '{"nftables":[{"chain":{"family":"arp","table":"g","name":"i","type":"filter","hook":"input","prio":0,"policy":"drop"}}]}',
      },
      "neigh.nft",
      "ip netns exec ns-b nft insert rule arp g i iifname '\"b0\"' accept",
    ],
  ] as const)("%s", async (_label, given, id, fix) => {
    const w = walk(given as Given);
    const links = w.world.namespaces.flatMap((n) => n.links);
    const a = links.find((l) => l.name === "a0")!;
    const b = links.find((l) => l.name === "b0")!;
    expect(await checkNeighbour(w, "ns-a", a, "10.7.0.2", b)).toBe(false);
    expect(first(w)).toMatchObject({ status: "fail", id, fix });
  });

  it("a correct permanent entry passes", async () => {
    const w = walk({
      neigh: [{ dst: "10.7.0.2", dev: "a0", lladdr: "02:00:00:00:00:0B", state: ["PERMANENT"] }],
    });
    expect(await checkNeighbour(w, "ns-a", A, "10.7.0.2", B)).toBe(true);
  });
});

describe("link checks", () => {
  const got = {
    route: { dst: "10.7.0.2", gateway: "192.168.0.1", dev: "eth0" },
    argv: ["ip", "route", "get", "10.7.0.2"],
    said: "10.7.0.2 via 192.168.0.1 dev eth0",
  };

  it("name a down interface whose network holds the destination", async () => {
    const w = walk({ links: [{ ...A, flags: ["BROADCAST"], operstate: "DOWN" }, B] });
    expect(await checkLinks(w, "ns-a", got)).toBe(false);
    expect(first(w)).toMatchObject({ id: "link.down", fix: "ip -n ns-a link set dev a0 up" });
  });

  it("name an interface that lost its address, with the far side's gateway as the fix", async () => {
    // The two ends of one veth pair, each naming the other.
    const a = { ...A, inet: [], ifindex: 5, peerIfindex: 6, peerNetnsid: 1 };
    const b = { ...B, ifindex: 6, peerIfindex: 5, peerNetnsid: 0 };
    const w2 = walk({
      links: [a, b],
      routes: [{ dst: "default", gateway: "10.7.0.1", dev: "b0" }],
    });
    expect(await checkLinks(w2, "ns-a", got)).toBe(false);
    expect(first(w2)).toMatchObject({
      id: "link.address",
      fix: "ip -n ns-a addr add 10.7.0.1/24 dev a0",
    });
  });

  it("not blame a down link whose wider network holds the destination when a more specific route is used", async () => {
    // 10.0.0.1/8 without carrier; the kernel goes by 10.2.0.0/16 via a gateway, and that works.
    const wide = {
      ...A,
      inet: [{ address: "10.0.0.1", prefixlen: 8 }],
      flags: ["BROADCAST", "UP"],
    };
    const gw = link("ns-a", "gw0", { inet: [{ address: "192.168.0.2", prefixlen: 24 }] });
    const routes = [
      { dst: "10.0.0.0/8", dev: "a0", table: "main" },
      { dst: "10.2.0.0/16", gateway: "192.168.0.1", dev: "gw0", table: "main" },
      { dst: "192.168.0.0/24", dev: "gw0", table: "main" },
      { dst: "default", gateway: "192.168.0.1", dev: "gw0", table: "main" },
    ];
    const viaGw = {
      route: { dst: "10.2.0.5", gateway: "192.168.0.1", dev: "gw0" },
      argv: ["ip", "route", "get", "10.2.0.5"],
      said: "10.2.0.5 via 192.168.0.1 dev gw0",
    };
    const w = walk({ links: [wide, gw, B], routes });
    w.dst = "10.2.0.5";
    expect(await checkLinks(w, "ns-a", viaGw)).toBe(true);
    expect(w.checks).toEqual([]);
    // By the default route instead, the down /8 is why: it is blamed.
    const w2 = walk({
      links: [wide, gw, B],
      routes: routes.filter((r) => r.dst !== "10.2.0.0/16"),
    });
    w2.dst = "10.2.0.5";
    expect(await checkLinks(w2, "ns-a", viaGw)).toBe(false);
    expect(first(w2)).toMatchObject({ id: "link.down" });
    // With no route at all, too.
    const w3 = walk({ links: [wide, gw, B], routes });
    w3.dst = "10.2.0.5";
    expect(
      await checkLinks(w3, "ns-a", {
        argv: viaGw.argv,
        said: "RTNETLINK answers: Network is unreachable",
      }),
    ).toBe(false);
    expect(first(w3)).toMatchObject({ id: "link.down" });
  });

  it("trust a direct route", async () => {
    const w = walk({ links: [{ ...A, flags: ["BROADCAST"] }, B] });
    const direct = { ...got, route: { dst: "10.7.0.2", dev: "a0" } };
    expect(await checkLinks(w, "ns-a", direct)).toBe(true);
    expect(w.checks).toEqual([]);
  });
});

describe("policy rules", () => {
  const rules = JSON.parse(fixture("ip-rule.json")) as IpRule[];
  const routes = JSON.parse(fixture("ip-route-all.json")) as TableRoute[];
  const refused = {
    argv: ["ip", "route", "get", "x"],
    said: "RTNETLINK answers: Invalid argument",
  };

  it("name the rule that blackholes, with its deletion as the fix", () => {
    const w = walk({ rules, routes });
    expect(failByRule(w, "ns-a", { src: "10.77.0.1", dst: "10.77.0.5", iif: "lo" }, refused)).toBe(
      true,
    );
    expect(first(w)).toMatchObject({
      id: "route.rule",
      fix: "ip -n ns-a rule del priority 100",
    });
    expect(first(w)?.evidence).toMatch(/rule 100 \(100: from all to 10.77.0.5 blackhole\)/);
  });

  it("say nothing where the default rules decide, or there are no others", () => {
    const w = walk({ rules, routes });
    expect(failByRule(w, "ns-a", { src: "10.5.0.1", dst: "10.77.0.2", iif: "ddxa" }, refused)).toBe(
      false,
    );
    const plain = walk({ rules: rules.filter((r) => [0, 32766, 32767].includes(r.priority)) });
    expect(failByRule(plain, "ns-a", { src: "1.1.1.1", dst: "10.77.0.5" }, refused)).toBe(false);
  });
});

describe("nftables checks", () => {
  const ruleset = fixture("nft-ruleset.json");

  it("name the forward chain's policy and fix both ways", () => {
    const w = walk({ nft: ruleset });
    w.dst = "10.50.0.1";
    w.srcAddr = "10.5.0.1";
    expect(checkNft(w, "ns-a", "nft.forward", ["forward"], { iif: "a0", oif: "b0" })).toBe(false);
    const c = first(w)!;
    expect(c.id).toBe("nft.forward");
    expect(c.evidence).toMatch(
      /10.5.0.1 → 10.50.0.1 at forward: drop by policy drop of inet foreign c_fwd/,
    );
    expect(c.fixCommands).toEqual([
      [
        "ip",
        "netns",
        "exec",
        "ns-a",
        "nft",
        "insert",
        "rule",
        "inet",
        "foreign",
        "c_fwd",
        "iifname",
        '"a0"',
        "oifname",
        '"b0"',
        "ip",
        "saddr",
        "10.5.0.1",
        "ip",
        "daddr",
        "10.50.0.1",
        "accept",
      ],
    ]);
  });

  it("warn, naming what it did not evaluate, where the verdict is accept", () => {
    const w = walk({ nft: ruleset });
    expect(checkNft(w, "ns-a", "nft.input", ["prerouting", "input"], { iif: "a0" })).toBe(true);
    expect(first(w)).toMatchObject({ id: "nft.input", status: "warn" });
    expect(first(w)?.evidence).toMatch(/not evaluated[\s\S]*limit/);
  });

  it("pass a router whose policy-drop forward chain lets replies back by the wiki's ct state vmap", () => {
    const w = walk({ nft: fixture("nft-vmap.json") });
    expect(
      checkNft(w, "ns-a", "nft.forward", ["prerouting", "forward", "postrouting"], {
        iif: "lan0",
        oif: "wan0",
      }),
    ).toBe(true);
    expect(w.checks.map((c) => `${c.status} ${c.id}`)).toEqual(["ok nft.forward"]);
    expect(w.checks[0]?.evidence).toMatch(
      /reply 10.7.0.2 → 10.7.0.1 at forward: accept by ct state vmap/,
    );
  });

  it("warn, never fail, where a rule it could not read came before the drop", () => {
    const w = walk({ nft: fixture("nft-unknown.json") });
    expect(checkNft(w, "ns-a", "nft.forward", ["forward"], { iif: "a0", oif: "b0" })).toBe(true);
    const c = first(w)!;
    expect(c).toMatchObject({ id: "nft.forward", status: "warn" });
    expect(c.fix).toBeUndefined();
    expect(c.evidence).toMatch(
      /at forward: drop by policy drop of inet strict forward \(unsure: not evaluated before it, and it might let the packet through: inet strict forward: meta mark 1 accept\)/,
    );
    expect(w.failed).toBe(false);
  });

  it("still fail where the rules it could not read could only drop", () => {
    const w = walk({ nft: fixture("nft-unknown.json") });
    expect(checkNft(w, "ns-a", "nft.input", ["input"], { iif: "lan0" })).toBe(false);
    expect(first(w)).toMatchObject({ id: "nft.input", status: "fail" });
  });

  it("record nothing without nft or without base chains", () => {
    const none = walk();
    expect(checkNft(none, "ns-a", "nft.output", ["output"], { oif: "a0" })).toBe(true);
    const empty = walk({ nft: '{"nftables":[]}' });
    expect(checkNft(empty, "ns-a", "nft.output", ["output"], { oif: "a0" })).toBe(true);
    expect([...none.checks, ...empty.checks]).toEqual([]);
  });
});
