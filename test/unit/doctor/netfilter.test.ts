import { describe, expect, it } from "vitest";
import {
  type Packet,
  doubtfulRules,
  evaluateChain,
  matchRule,
  parseRuleTable,
} from "../../../provider/doctor/netfilter";
import { splitRuleLine } from "../../../provider/host/iptables";

const bridged: Packet = {
  iif: "br0",
  oif: "br0",
  physIn: "veth-blue-br",
  physOut: "veth-green-br",
  src: "10.0.0.1",
  dst: "10.0.0.2",
  proto: "icmp",
  icmpType: 8,
  ctstate: "NEW",
};

const DOCKER = `-P INPUT ACCEPT
-P FORWARD DROP
-P OUTPUT ACCEPT
-N DOCKER
-N DOCKER-ISOLATION-STAGE-1
-N DOCKER-USER
-A FORWARD -j DOCKER-USER
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A FORWARD -o docker0 -j DOCKER
-A FORWARD -i docker0 ! -o docker0 -j ACCEPT
-A FORWARD -i docker0 -o docker0 -j ACCEPT
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-USER -j RETURN
`;

describe("parseRuleTable", () => {
  it("reads policies, user chains and rules in order", () => {
    const t = parseRuleTable(DOCKER);
    expect(t.policies.get("FORWARD")).toBe("DROP");
    expect(t.chains.get("DOCKER")).toEqual([]);
    expect(t.chains.get("FORWARD")?.map((r) => r.words.at(-1))).toEqual([
      "DOCKER-USER",
      "DOCKER-ISOLATION-STAGE-1",
      "ACCEPT",
      "DOCKER",
      "ACCEPT",
      "ACCEPT",
    ]);
  });

  it("keeps quoted comments as one word", () => {
    const t = parseRuleTable(
      `-A FORWARD -i br0 -o br0 -m comment --comment "linuxnet: bridge br0" -j ACCEPT\n`,
    );
    expect(t.chains.get("FORWARD")?.[0]?.words).toContain("linuxnet: bridge br0");
  });
});

describe("matchRule", () => {
  const rows: [string, string, Partial<Packet>, boolean | "unknown"][] = [
    ["matches in and out interface", "-i br0 -o br0 -j ACCEPT", {}, true],
    ["refuses another out interface", "-i br0 -o eth0 -j ACCEPT", {}, false],
    ["honours a negated interface", "-i br0 ! -o br0 -j ACCEPT", {}, false],
    ["treats a trailing + as a prefix", "-i br+ -j ACCEPT", {}, true],
    ["matches a source network", "-s 10.0.0.0/24 -j ACCEPT", {}, true],
    ["refuses another source network", "-s 10.1.0.0/24 -j ACCEPT", {}, false],
    ["matches a host address as /32", "-d 10.0.0.2/32 -j ACCEPT", {}, true],
    ["honours a negated destination", "! -d 10.0.0.0/8 -j ACCEPT", {}, false],
    ["matches -p all", "-p all -j ACCEPT", {}, true],
    ["refuses tcp for an icmp packet", "-p tcp -j ACCEPT", {}, false],
    ["matches a protocol by number", "-p 1 -j ACCEPT", {}, true],
    ["matches a tcp port", "-p tcp -m tcp --dport 22 -j ACCEPT", { proto: "tcp", dport: 22 }, true],
    [
      "matches a port range",
      "-p tcp -m tcp --dport 20:30 -j ACCEPT",
      { proto: "tcp", dport: 22 },
      true,
    ],
    [
      "refuses another port",
      "-p tcp -m tcp --dport 80 -j ACCEPT",
      { proto: "tcp", dport: 22 },
      false,
    ],
    [
      "matches multiport",
      "-p tcp -m multiport --dports 80,443,20:25 -j ACCEPT",
      { proto: "tcp", dport: 22 },
      true,
    ],
    ["matches an echo request", "-p icmp -m icmp --icmp-type 8 -j ACCEPT", {}, true],
    [
      "refuses an echo reply type for a request",
      "-p icmp -m icmp --icmp-type echo-reply -j ACCEPT",
      {},
      false,
    ],
    [
      "refuses NEW for ESTABLISHED-only rules",
      "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
      {},
      false,
    ],
    [
      "matches a reply for ESTABLISHED rules",
      "-m state --state ESTABLISHED -j ACCEPT",
      { ctstate: "ESTABLISHED" },
      true,
    ],
    [
      "matches bridge ports with physdev",
      "-m physdev --physdev-in veth-blue-br --physdev-is-bridged -j ACCEPT",
      {},
      true,
    ],
    ["refuses another bridge port", "-m physdev --physdev-out veth-red-br -j ACCEPT", {}, false],
    ["ignores comments", `-m comment --comment "x y" -j ACCEPT`, {}, true],
    ["does not guess an ipset match", "-m set --match-set allowed src -j ACCEPT", {}, "unknown"],
    [
      "lets a known mismatch win over an unknown match",
      "-o eth0 -m set --match-set a src -j ACCEPT",
      {},
      false,
    ],
    ["never matches a later fragment", "-f -j DROP", {}, false],
  ];
  it.each(rows)("%s", (_label, line, patch, want) => {
    const words = splitRuleLine(`-A FORWARD ${line}`).slice(2);
    expect(matchRule(words, { ...bridged, ...patch })).toBe(want);
  });
});

describe("evaluateChain", () => {
  it("drops by policy when no rule accepts", () => {
    const v = evaluateChain(parseRuleTable("-P FORWARD DROP\n"), "FORWARD", bridged);
    expect(v).toMatchObject({ target: "DROP", byPolicy: true, by: "-P FORWARD DROP" });
  });

  it("accepts by the first matching rule, before a later DROP", () => {
    const t = parseRuleTable(
      "-P FORWARD ACCEPT\n-A FORWARD -i br0 -o br0 -j ACCEPT\n-A FORWARD -j DROP\n",
    );
    expect(evaluateChain(t, "FORWARD", bridged)).toMatchObject({
      target: "ACCEPT",
      by: "-A FORWARD -i br0 -o br0 -j ACCEPT",
    });
  });

  it("drops when a DROP comes before the ACCEPT", () => {
    const t = parseRuleTable(
      "-P FORWARD ACCEPT\n-A FORWARD -j DROP\n-A FORWARD -i br0 -o br0 -j ACCEPT\n",
    );
    expect(evaluateChain(t, "FORWARD", bridged).target).toBe("DROP");
  });

  it("follows Docker's user chains and their RETURNs to the policy", () => {
    expect(evaluateChain(parseRuleTable(DOCKER), "FORWARD", bridged)).toMatchObject({
      target: "DROP",
      byPolicy: true,
    });
    const docker: Packet = { ...bridged, iif: "docker0", oif: "docker0" };
    expect(evaluateChain(parseRuleTable(DOCKER), "FORWARD", docker).by).toBe(
      "-A FORWARD -i docker0 -o docker0 -j ACCEPT",
    );
  });

  it("returns from a goto to the caller's caller", () => {
    const t = parseRuleTable(
      "-P FORWARD DROP\n-N A\n-N B\n-A FORWARD -j A\n-A FORWARD -j ACCEPT\n-A A -g B\n-A A -j DROP\n-A B -j RETURN\n",
    );
    expect(evaluateChain(t, "FORWARD", bridged).target).toBe("ACCEPT");
  });

  it("keeps going past LOG and MARK", () => {
    const t = parseRuleTable(
      `-P FORWARD DROP\n-A FORWARD -j LOG --log-prefix "fw: "\n-A FORWARD -j MARK --set-xmark 0x1/0xffffffff\n-A FORWARD -j ACCEPT\n`,
    );
    expect(evaluateChain(t, "FORWARD", bridged).target).toBe("ACCEPT");
  });

  it("finds MASQUERADE in the nat table, and an early ACCEPT that skips it", () => {
    const masq = parseRuleTable(
      "-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.0.0.0/24 -o eth0 -j MASQUERADE\n",
    );
    const out: Packet = { ...bridged, iif: undefined, oif: "eth0", dst: "192.0.2.1" };
    expect(evaluateChain(masq, "POSTROUTING", out, "nat").target).toBe("MASQUERADE");
    const skip = parseRuleTable(
      "-P POSTROUTING ACCEPT\n-A POSTROUTING -d 192.0.2.0/24 -j ACCEPT\n-A POSTROUTING -s 10.0.0.0/24 -o eth0 -j MASQUERADE\n",
    );
    expect(evaluateChain(skip, "POSTROUTING", out, "nat")).toMatchObject({
      target: "ACCEPT",
      byPolicy: false,
    });
  });

  it("reports rules it could not read that would have changed the verdict", () => {
    const t = parseRuleTable(
      "-P FORWARD DROP\n-A FORWARD -m set --match-set ok src -j ACCEPT\n-A FORWARD -m addrtype --dst-type LOCAL -j DROP\n",
    );
    const v = evaluateChain(t, "FORWARD", bridged);
    expect(v.target).toBe("DROP");
    expect(v.uncertain).toHaveLength(2);
    expect(doubtfulRules(v).map((r) => r.text)).toEqual([
      "-A FORWARD -m set --match-set ok src -j ACCEPT",
    ]);
  });
});
