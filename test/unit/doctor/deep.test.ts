/**
 * The deeper checks' pure parts, replayed on outputs recorded from real
 * commands (fixtures/deep: `nft -j list ruleset`, `ip -j rule show`, `ip -4
 * -j route show table all`, `ip -j -4 neigh show` of one namespace set up by
 * hand on this kernel): the nftables evaluator, the rule walk, neighbour
 * entries.
 */

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import type { Packet } from "../../../provider/doctor/netfilter";
import { baseChains, evaluateHook, parseNftRuleset } from "../../../provider/doctor/nftrules";
import {
  type IpRule,
  type Neighbour,
  type TableRoute,
  arpIgnoreMode,
  decideRule,
  hasPolicyRules,
  isStatic,
  lookupTable,
  neighbourOf,
  ruleLine,
} from "../../../provider/doctor/policy";

const read = (name: string) => readFileSync(path.join(__dirname, "fixtures", "deep", name), "utf8");

const ruleset = parseNftRuleset(read("nft-ruleset.json"));
const rules = JSON.parse(read("ip-rule.json")) as IpRule[];
const routes = JSON.parse(read("ip-route-all.json")) as TableRoute[];
const neigh = JSON.parse(read("ip-neigh.json")) as Neighbour[];

const pkt = (p: Partial<Packet>): Packet => ({
  src: "10.5.0.1",
  dst: "10.3.3.3",
  proto: "icmp",
  icmpType: 8,
  ctstate: "NEW",
  ...p,
});

describe("nftables, evaluated on a recorded ruleset", () => {
  it("finds the base chains per hook by priority, leaving iptables-nft's tables to iptables", () => {
    const label = (hook: string) =>
      baseChains(ruleset, hook).map((c) => `${c.family} ${c.table} ${c.name} ${c.prio}`);
    expect(label("forward")).toEqual(["inet foreign c_fwd 0"]);
    expect(label("input")).toEqual(["ip other early -200", "inet foreign c_in 10"]);
    expect(label("output")).toEqual(["inet foreign c_out 0"]);
    // A nat chain does not filter.
    expect(label("prerouting")).toEqual([]);
  });

  it.each([
    [
      "interfaces and a source prefix",
      pkt({ iif: "ddxa", oif: "eth9", src: "10.77.0.5", dst: "10.2.2.2" }),
      "accept",
      /iifname "ddxa" oifname "eth9" ip saddr 10.77.0.0\/24 accept/,
    ],
    ["a reply, by ct state", pkt({ ctstate: "ESTABLISHED" }), "accept", /ct state/],
    [
      "anonymous sets of addresses and ports (a range)",
      pkt({ iif: "x", proto: "tcp", dport: 85, dst: "10.2.2.7", icmpType: undefined }),
      "accept",
      /tcp dport \{ 22, 80-90 \} accept/,
    ],
    [
      "a drop in a jumped-to chain",
      pkt({ src: "10.66.1.1" }),
      "drop",
      /ip saddr 10.66.0.0\/16 drop \(in inet foreign c_fwd\)/,
    ],
    [
      "return from the jumped-to chain, then the policy",
      pkt({ dst: "10.50.0.1" }),
      "drop",
      /policy drop of inet foreign c_fwd/,
    ],
    [
      "a named set",
      pkt({ src: "10.9.9.9", dst: "10.50.0.1" }),
      "accept",
      /ip saddr @allowed accept/,
    ],
    [
      "a negated prefix",
      pkt({ src: "192.168.1.1", proto: "tcp", dport: 443, icmpType: undefined }),
      "drop",
      /ip saddr != 10.0.0.0\/8 drop/,
    ],
  ])("forward: %s", (_label, p, verdict, by) => {
    const v = evaluateHook(ruleset, "forward", p);
    expect(v.verdict).toBe(verdict);
    expect(v.by).toMatch(by);
  });

  it("input: the earlier base chain decides first; a reject is a drop", () => {
    const udp = evaluateHook(
      ruleset,
      "input",
      pkt({ iif: "ddxa", proto: "udp", dport: 53, icmpType: undefined }),
    );
    expect(udp).toMatchObject({ verdict: "drop" });
    expect(udp.by).toMatch(/udp dport 53 drop \(in ip other early\)/);
    const rejected = evaluateHook(ruleset, "input", pkt({ iif: "ddxa", src: "10.77.0.9" }));
    expect(rejected.verdict).toBe("drop");
    expect(rejected.by).toMatch(/reject/);
  });

  it("says what it could not evaluate instead of assuming it (a rate limit)", () => {
    const v = evaluateHook(ruleset, "input", pkt({ iif: "ddxa" }));
    expect(v.verdict).toBe("accept");
    expect(v.notEvaluated.map((r) => r.text)).toEqual(["limit … accept"]);
  });

  it("output: goto a chain, whose end returns to the base chain's policy", () => {
    expect(evaluateHook(ruleset, "output", pkt({ oif: "ddxa", dst: "10.44.1.1" })).verdict).toBe(
      "accept",
    );
    const v = evaluateHook(
      ruleset,
      "output",
      pkt({ oif: "ddxa", src: "10.66.0.9", dst: "10.44.1.1" }),
    );
    expect(v.verdict).toBe("drop");
  });

  it("an empty ruleset has no base chains", () => {
    expect(baseChains(parseNftRuleset(""), "forward")).toEqual([]);
    expect(evaluateHook(parseNftRuleset('{"nftables":[]}'), "input", pkt({})).verdict).toBe(
      "accept",
    );
  });
});

/**
 * Rulesets loaded on this kernel in a scratch namespace (nft-vmap.nft,
 * nft-unknown.nft beside them) and listed with `nft -j list ruleset`.
 */
describe("nftables verdict maps and rules it cannot read, recorded", () => {
  const vmap = parseNftRuleset(read("nft-vmap.json"));
  const unknown = parseNftRuleset(read("nft-unknown.json"));

  it.each<[Packet["ctstate"], string, RegExp]>([
    ["ESTABLISHED", "accept", /ct state vmap \{ "invalid" : drop, "established" : accept/],
    ["RELATED", "accept", /ct state vmap/],
    ["INVALID", "drop", /ct state vmap/],
  ])("the wiki's ct state vmap: %s is %s", (ctstate, verdict, by) => {
    const v = evaluateHook(vmap, "forward", pkt({ ctstate, iif: "wan0", oif: "lan0" }));
    expect(v.verdict).toBe(verdict);
    expect(v.by).toMatch(by);
    expect(v.notEvaluated).toEqual([]);
    expect(v.unsure).toEqual([]);
  });

  it.each([
    ["a new packet no rule takes", pkt({}), "drop", /policy drop of inet router forward/],
    ["by interfaces, past the vmap", pkt({ iif: "lan0", oif: "wan0" }), "accept", /lan0/],
    [
      "a vmap on meta l4proto jumping to a chain",
      pkt({ proto: "tcp", dport: 80, icmpType: undefined }),
      "accept",
      /tcp dport 80 accept/,
    ],
    [
      "a named verdict map on tcp dport: accept",
      pkt({ proto: "tcp", dport: 22, icmpType: undefined }),
      "accept",
      /tcp dport vmap @portmap/,
    ],
    [
      "a named verdict map on tcp dport: drop",
      pkt({ proto: "tcp", dport: 23, icmpType: undefined }),
      "drop",
      /tcp dport vmap @portmap/,
    ],
    [
      "a tcp vmap does not match icmp; a prefix vmap on ip saddr",
      pkt({ src: "10.77.1.1" }),
      "accept",
      /ip saddr vmap \{ 10.66.0.0\/16 : drop, 10.77.0.0\/16 : accept \}/,
    ],
    ["a prefix vmap's drop", pkt({ src: "10.66.1.1" }), "drop", /ip saddr vmap/],
  ])("forward: %s", (_label, p, verdict, by) => {
    const v = evaluateHook(vmap, "forward", p);
    expect(v.verdict).toBe(verdict);
    expect(v.by).toMatch(by);
    expect(v.notEvaluated).toEqual([]);
  });

  it("a drop after a rule it could not read that might accept is unsure, naming that rule", () => {
    const policy = evaluateHook(unknown, "forward", pkt({}));
    expect(policy).toMatchObject({ verdict: "drop", by: "policy drop of inet strict forward" });
    expect(policy.unsure.map((r) => r.text)).toEqual(["meta mark 1 accept"]);
    const rule = evaluateHook(unknown, "forward", pkt({ src: "10.9.0.1" }));
    expect(rule.verdict).toBe("drop");
    expect(rule.unsure.map((r) => r.text)).toEqual(["meta mark 1 accept"]);
  });

  it("in an earlier base chain, only a rule that changes the packet makes a later drop unsure", () => {
    const fwd = evaluateHook(unknown, "forward", pkt({}));
    expect(fwd.notEvaluated.map((r) => r.text)).toEqual([
      "meta mark 5 accept",
      "meta mark 1 accept",
    ]);
    expect(fwd.unsure.map((r) => r.text)).toEqual(["meta mark 1 accept"]);
    const out = evaluateHook(unknown, "output", pkt({ oif: "lan0" }));
    expect(out).toMatchObject({ verdict: "drop", by: "policy drop of inet strict output" });
    expect(out.unsure.map((r) => `${r.table} ${r.chain}: ${r.text}`)).toEqual([
      "early output: mangle …",
    ]);
  });

  it("a drop after rules it could not read that could only drop is sure", () => {
    const v = evaluateHook(unknown, "input", pkt({ iif: "lan0" }));
    expect(v.verdict).toBe("drop");
    expect(v.notEvaluated.map((r) => r.text)).toEqual(['iifname "lan0" meta mark 2 drop']);
    expect(v.unsure).toEqual([]);
  });
});

describe("policy routing, walked on recorded rules and routes", () => {
  it("tells the three default rules from policy rules", () => {
    expect(hasPolicyRules(rules)).toBe(true);
    expect(hasPolicyRules(rules.filter((r) => [0, 32766, 32767].includes(r.priority)))).toBe(false);
  });

  it.each([
    ["a blackhole rule", { src: "10.77.0.1", dst: "10.77.0.5", iif: "lo" }, 100, "blackhole"],
    ["a prohibit rule", { src: "10.77.0.1", dst: "10.77.0.6", iif: "lo" }, 101, "prohibit"],
    ["an unreachable rule", { src: "10.77.0.1", dst: "10.77.0.7", iif: "lo" }, 102, "unreachable"],
    [
      "from and iif lo into a table whose default is unreachable",
      { src: "10.77.0.1", dst: "10.77.0.8", iif: "lo" },
      103,
      "unreachable",
    ],
    [
      "the same rule, where that table holds the route",
      { src: "10.77.0.1", dst: "10.99.1.1", iif: "lo" },
      103,
      "route",
    ],
    [
      "a mark under a mask",
      { src: "10.77.0.3", dst: "10.99.1.1", iif: "lo", mark: 0x101 },
      104,
      "route",
    ],
    [
      "not from, by incoming interface",
      { src: "10.6.0.1", dst: "10.99.1.1", iif: "ddxa" },
      105,
      "route",
    ],
  ] as const)("%s", (_label, p, priority, kind) => {
    const d = decideRule(rules, routes, p);
    expect(d?.rule.priority).toBe(priority);
    expect(d?.kind).toBe(kind);
  });

  it("falls through to main past a table without a route, and lists rules it cannot evaluate", () => {
    const d = decideRule(rules, routes, { src: "10.5.0.1", dst: "10.77.0.2", iif: "ddxa" });
    expect(d?.rule.priority).toBe(32766);
    expect(d?.route?.dst).toBe("10.77.0.0/24");
    expect(d?.uncertain.map((r) => r.priority)).toEqual([107]);
  });

  it("not inverts the whole selector; goto skips to the rule it names", () => {
    // Anything but (from 10.5.0.0/16 and in by ddxa) matches rule 105.
    expect(
      decideRule(rules, routes, { src: "10.6.0.1", dst: "10.8.1.1", iif: "lo" })?.rule.priority,
    ).toBe(105);
    const p = { src: "10.5.0.1", dst: "10.8.1.1", iif: "ddxa", oif: "ddxa" };
    const withRoute = [...routes, { dst: "10.8.0.0/16", dev: "ddxa" }];
    const d = decideRule(rules, withRoute, p);
    expect(d?.rule.priority).toBe(32766);
    // Rule 107 (ports: not evaluated) was jumped over, not guessed.
    expect(d?.uncertain).toEqual([]);
  });

  it("prints rules as ip rule does", () => {
    expect(rules.map(ruleLine)).toContain("105: not from 10.5.0.0/16 iif ddxa lookup 100");
    expect(rules.map(ruleLine)).toContain("104: from all fwmark 0x1/0xff lookup 101");
    expect(rules.map(ruleLine)).toContain("100: from all to 10.77.0.5 blackhole");
  });

  it("looks a table up by longest prefix", () => {
    expect(lookupTable(routes, "100", "10.99.0.1")?.gateway).toBe("10.77.0.2");
    expect(lookupTable(routes, "100", "10.1.0.1")?.type).toBe("unreachable");
    expect(lookupTable(routes, "main", "10.1.0.1")).toBeUndefined();
  });
});

describe("neighbour entries, recorded", () => {
  it("finds an entry and tells a static one", () => {
    expect(isStatic(neighbourOf(neigh, "10.77.0.9", "ddxa")!)).toBe(true);
    expect(isStatic(neighbourOf(neigh, "10.77.0.2", "ddxa")!)).toBe(false);
    expect(neighbourOf(neigh, "10.77.0.5", "ddxa")?.state).toEqual(["FAILED"]);
    expect(neighbourOf(neigh, "10.77.0.2", "eth0")).toBeUndefined();
  });

  it("takes the larger arp_ignore of all and the interface", () => {
    expect(arpIgnoreMode("0", "8")).toBe(8);
    expect(arpIgnoreMode("2", "1")).toBe(2);
    expect(arpIgnoreMode(undefined, undefined)).toBe(0);
  });
});
