/**
 * The nftables backend, pure: the rules it writes (masquerade, bridge accept,
 * and the DNAT builders a PortForward uses), the one-transaction scripts that
 * add and remove them with our table and chains, the parse of `nft -j list
 * table inet linuxnet` as nft 1.0.6 printed it, and the choice of a backend.
 */

import { describe, expect, it } from "vitest";
import {
  DETECT_SCRIPT,
  chooseFirewall,
  detectArgv,
  firewallFor,
  parseDetected,
} from "../../../provider/firewall";
import {
  NFT_CHAINS,
  bridgeAcceptRule,
  dnatFromHostRule,
  dnatRule,
  dnatTargetOf,
  hairpinMasqueradeRule,
  masqueradeRule,
  nftArgv,
  nftablesFirewall,
  ownedNftRule,
  planAddScript,
  planDeleteScript,
} from "../../../provider/firewall/nftables";
import {
  NO_TABLE,
  addressMatch,
  dnatTarget,
  isNftMissing,
  isNftTableAbsent,
  metaMatch,
  parseNftTable,
  portMatch,
  verdictOf,
} from "../../../provider/host/nftables";
import { nftTableOutcome } from "../../../provider/host/reader";
import { CommandError } from "../../../provider/errors";
import type { CommandResult, Host } from "../../../provider/transport";
import { labelled } from "../support";

/**
 * `nft -j list table inet linuxnet` on nft 1.0.6 (kernel 6.x) after the
 * the builders' rules were added in a scratch namespace, plus one rule that
 * is not ours (comment "x"): captured (the port forward's comments renamed
 * to one resource's tags), one line as nft prints it.
 */
const LISTED = JSON.stringify({
  nftables: [
    { metainfo: { version: "1.0.6", release_name: "Lester Gooch #5", json_schema_version: 1 } },
    { table: { family: "inet", name: "linuxnet", handle: 1 } },
    {
      chain: {
        family: "inet",
        table: "linuxnet",
        name: "postrouting",
        handle: 1,
        type: "nat",
        hook: "postrouting",
        prio: 100,
        policy: "accept",
      },
    },
    {
      chain: {
        family: "inet",
        table: "linuxnet",
        name: "forward",
        handle: 3,
        type: "filter",
        hook: "forward",
        prio: 0,
        policy: "accept",
      },
    },
    {
      chain: {
        family: "inet",
        table: "linuxnet",
        name: "prerouting",
        handle: 5,
        type: "nat",
        hook: "prerouting",
        prio: -100,
        policy: "accept",
      },
    },
    {
      chain: {
        family: "inet",
        table: "linuxnet",
        name: "output",
        handle: 7,
        type: "nat",
        hook: "output",
        prio: -100,
        policy: "accept",
      },
    },
    {
      rule: {
        family: "inet",
        table: "linuxnet",
        chain: "postrouting",
        handle: 2,
        comment: "linuxnet:nat-1:fwd",
        expr: [
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "saddr" } },
              right: { prefix: { addr: "10.0.0.0", len: 24 } },
            },
          },
          { match: { op: "==", left: { meta: { key: "oifname" } }, right: "eth0" } },
          { masquerade: null },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "linuxnet",
        chain: "postrouting",
        handle: 9,
        comment: "x",
        expr: [
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "saddr" } },
              right: { prefix: { addr: "10.0.0.0", len: 24 } },
            },
          },
          { masquerade: null },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "linuxnet",
        chain: "postrouting",
        handle: 10,
        comment: "linuxnet:pf-1:hairpin",
        expr: [
          { match: { op: "in", left: { ct: { key: "status" } }, right: "dnat" } },
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "daddr" } },
              right: "10.0.0.2",
            },
          },
          {
            match: { op: "==", left: { payload: { protocol: "tcp", field: "dport" } }, right: 80 },
          },
          { masquerade: null },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "linuxnet",
        chain: "forward",
        handle: 4,
        comment: "linuxnet:bridge:br0",
        expr: [
          { match: { op: "==", left: { meta: { key: "iifname" } }, right: "br0" } },
          { match: { op: "==", left: { meta: { key: "oifname" } }, right: "br0" } },
          { accept: null },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "linuxnet",
        chain: "prerouting",
        handle: 6,
        comment: "linuxnet:pf-1",
        expr: [
          { match: { op: "==", left: { meta: { key: "iifname" } }, right: "eth0" } },
          {
            match: {
              op: "==",
              left: { payload: { protocol: "tcp", field: "dport" } },
              right: 8080,
            },
          },
          { dnat: { family: "ip", addr: "10.0.0.2", port: 80 } },
        ],
      },
    },
    {
      rule: {
        family: "inet",
        table: "linuxnet",
        chain: "output",
        handle: 8,
        comment: "linuxnet:pf-1:host",
        expr: [
          {
            match: {
              op: "==",
              left: { fib: { result: "type", flags: ["daddr"] } },
              right: "local",
            },
          },
          {
            match: { op: "==", left: { payload: { protocol: "udp", field: "dport" } }, right: 53 },
          },
          { dnat: { family: "ip", addr: "10.0.0.2" } },
        ],
      },
    },
  ],
});

const WEB = { protocol: "tcp", hostPort: 8080, to: "10.0.0.2:80", inInterface: "eth0" } as const;

describe("the nftables rules", () => {
  it.each(
    labelled([
      {
        label: "a masquerade out of one interface",
        rule: masqueradeRule({ source: "10.0.0.0/24", outInterface: "eth0" }, "linuxnet:nat-1:fwd"),
        chain: "postrouting",
        statement: 'ip saddr 10.0.0.0/24 oifname "eth0" masquerade',
      },
      {
        label: "a masquerade out of any interface",
        rule: masqueradeRule({ source: "10.0.0.5/32" }, "linuxnet:nat-1"),
        chain: "postrouting",
        statement: "ip saddr 10.0.0.5/32 masquerade",
      },
      {
        label: "an IPv6 masquerade",
        rule: masqueradeRule({ source: "fd00::/64" }, "linuxnet:nat-1"),
        chain: "postrouting",
        statement: "ip6 saddr fd00::/64 masquerade",
      },
      {
        label: "a bridge's accept",
        rule: bridgeAcceptRule("br0", "linuxnet:bridge:br0"),
        chain: "forward",
        statement: 'iifname "br0" oifname "br0" accept',
      },
      {
        label: "a DNAT of traffic arriving by one interface",
        rule: dnatRule(WEB, "linuxnet:pf-1"),
        chain: "prerouting",
        statement: 'iifname "eth0" tcp dport 8080 dnat ip to 10.0.0.2:80',
      },
      {
        label: "a DNAT of traffic arriving by any interface, to the same port",
        rule: dnatRule({ protocol: "udp", hostPort: 53, to: "10.0.0.2" }, "linuxnet:pf-1"),
        chain: "prerouting",
        statement: "udp dport 53 dnat ip to 10.0.0.2",
      },
      {
        label: "a DNAT to an IPv6 address",
        rule: dnatRule({ protocol: "tcp", hostPort: 8080, to: "[fd00::2]:80" }, "linuxnet:pf-1"),
        chain: "prerouting",
        statement: "tcp dport 8080 dnat ip6 to [fd00::2]:80",
      },
      {
        label: "a DNAT of the host's own traffic to a local address (fromHost)",
        rule: dnatFromHostRule(WEB, "linuxnet:pf-1:host"),
        chain: "output",
        statement: "fib daddr type local tcp dport 8080 dnat ip to 10.0.0.2:80",
      },
      {
        label: "a hairpin masquerade of DNATed connections",
        rule: hairpinMasqueradeRule(WEB, "linuxnet:pf-1:hairpin"),
        chain: "postrouting",
        statement: "ct status dnat ip daddr 10.0.0.2 tcp dport 80 masquerade",
      },
    ]),
  )("writes %s in its chain", (_label, { rule, chain, statement }) => {
    expect(rule.chain).toBe(chain);
    expect(rule.statement).toBe(statement);
  });

  it.each(
    labelled([
      {
        label: "an interface name with a quote",
        make: () => bridgeAcceptRule('br0"; flush ruleset', "linuxnet:b"),
      },
      {
        label: "an interface name with a space",
        make: () => bridgeAcceptRule("br 0", "linuxnet:b"),
      },
      {
        label: "a tag that is not ours",
        make: () => planAddScript([bridgeAcceptRule("br0", "docker")]),
      },
      {
        label: "a tag with a quote",
        make: () => planAddScript([bridgeAcceptRule("br0", 'linuxnet:a" drop')]),
      },
      {
        label: "a source that is no network",
        make: () => masqueradeRule({ source: "10.0.0.0/24; flush ruleset" }, "linuxnet:n"),
      },
      {
        label: "a DNAT target that is no address",
        make: () => dnatRule({ ...WEB, to: "web:80" }, "linuxnet:p"),
      },
      {
        label: "a DNAT target port out of range",
        make: () => dnatRule({ ...WEB, to: "10.0.0.2:70000" }, "linuxnet:p"),
      },
      { label: "a host port of 0", make: () => dnatRule({ ...WEB, hostPort: 0 }, "linuxnet:p") },
      {
        label: "a protocol that is not tcp or udp",
        make: () => dnatRule({ ...WEB, protocol: "icmp" as "tcp" }, "linuxnet:p"),
      },
    ]),
  )("refuses %s rather than write it into a script", (_label, { make }) => {
    expect(make).toThrow();
  });

  it("takes a DNAT target apart: address, family and port", () => {
    expect(dnatTargetOf("10.0.0.2:80")).toEqual({ family: "ip", addr: "10.0.0.2", port: 80 });
    expect(dnatTargetOf("10.0.0.2")).toEqual({ family: "ip", addr: "10.0.0.2" });
    expect(dnatTargetOf("[fd00::2]:80")).toEqual({ family: "ip6", addr: "fd00::2", port: 80 });
  });

  it("puts each chain at the priority that works beside other tables: srcnat, dstnat, filter", () => {
    expect(NFT_CHAINS).toEqual({
      postrouting: { type: "nat", hook: "postrouting", priority: 100 },
      prerouting: { type: "nat", hook: "prerouting", priority: -100 },
      output: { type: "nat", hook: "output", priority: -100 },
      forward: { type: "filter", hook: "forward", priority: 0 },
    });
  });
});

describe("the nftables scripts", () => {
  it("adds a rule with our table and only the chain it needs, in one script", () => {
    expect(planAddScript([bridgeAcceptRule("br0", "linuxnet:bridge:br0")])).toBe(
      [
        "add table inet linuxnet",
        "add chain inet linuxnet forward { type filter hook forward priority 0; policy accept; }",
        'add rule inet linuxnet forward iifname "br0" oifname "br0" accept comment "linuxnet:bridge:br0"',
      ].join("\n"),
    );
  });

  it("adds a port forward's rules with each chain once", () => {
    const script = planAddScript([
      dnatRule(WEB, "linuxnet:pf-1"),
      dnatFromHostRule(WEB, "linuxnet:pf-1:host"),
      hairpinMasqueradeRule(WEB, "linuxnet:pf-1:hairpin"),
    ]);
    expect(
      script
        .split("\n")
        .filter((l) => l.startsWith("add chain"))
        .map((l) => l.split(" ")[4]),
    ).toEqual(["prerouting", "output", "postrouting"]);
    expect(script).toContain(
      'add rule inet linuxnet prerouting iifname "eth0" tcp dport 8080 dnat ip to 10.0.0.2:80 comment "linuxnet:pf-1"',
    );
  });

  it("runs as one argument of nft, in the namespace", () => {
    expect(nftArgv("r1", "add table inet linuxnet")).toEqual([
      "ip",
      "netns",
      "exec",
      "r1",
      "nft",
      "add table inet linuxnet",
    ]);
    expect(nftablesFirewall.planBridgeAccept(undefined, "br0", "linuxnet:bridge:br0")[0]).toBe(
      "nft",
    );
  });

  const table = parseNftTable(LISTED);

  it.each(
    labelled([
      {
        label: "one rule of several in its chain: the rule only",
        tag: "linuxnet:nat-1",
        chains: ["postrouting"] as const,
        script: ["delete rule inet linuxnet postrouting handle 2"],
      },
      {
        label: "the last rule of its chain: the rule and the chain",
        tag: "linuxnet:bridge:br0",
        chains: ["forward"] as const,
        script: [
          "delete rule inet linuxnet forward handle 4",
          "delete chain inet linuxnet forward",
        ],
      },
      {
        label: "a port forward's rules in three chains: each, and the two chains left empty",
        tag: "linuxnet:pf-1",
        chains: undefined,
        script: [
          "delete rule inet linuxnet postrouting handle 10",
          "delete rule inet linuxnet prerouting handle 6",
          "delete rule inet linuxnet output handle 8",
          "delete chain inet linuxnet prerouting",
          "delete chain inet linuxnet output",
        ],
      },
    ]),
  )("deletes %s", (_label, { tag, chains, script }) => {
    expect(planDeleteScript(table, tag, chains)?.split("\n")).toEqual(script);
  });

  it("deletes the table with the last rule in it", () => {
    const one = {
      exists: true,
      chains: [{ name: "forward", handle: 3 }],
      rules: [{ chain: "forward", handle: 4, comment: "linuxnet:bridge:br0", expr: [] }],
    };
    expect(planDeleteScript(one, "linuxnet:bridge:br0", ["forward"])).toBe(
      "delete rule inet linuxnet forward handle 4\ndelete table inet linuxnet",
    );
  });

  it("deletes an empty table of ours left behind, and does nothing where there is no table", () => {
    expect(planDeleteScript({ exists: true, chains: [], rules: [] }, "linuxnet:x")).toBe(
      "delete table inet linuxnet",
    );
    expect(planDeleteScript(NO_TABLE, "linuxnet:x")).toBeUndefined();
  });

  it("leaves everything when no rule carries the tag, nor one it is only a prefix of", () => {
    expect(planDeleteScript(table, "linuxnet:nat-10")).toBeUndefined();
    expect(planDeleteScript(table, "linuxnet:bridge:br0", ["postrouting"])).toBeUndefined();
  });
});

describe("parseNftTable", () => {
  const table = parseNftTable(LISTED);

  it("reads the table, its chains with their hooks and priorities, and every rule with handle and comment", () => {
    expect(table.exists).toBe(true);
    expect(table.chains.map((c) => [c.name, c.handle, c.type, c.hook, c.priority])).toEqual([
      ["postrouting", 1, "nat", "postrouting", 100],
      ["forward", 3, "filter", "forward", 0],
      ["prerouting", 5, "nat", "prerouting", -100],
      ["output", 7, "nat", "output", -100],
    ]);
    expect(table.rules.map((r) => [r.chain, r.handle, r.comment])).toEqual([
      ["postrouting", 2, "linuxnet:nat-1:fwd"],
      ["postrouting", 9, "x"],
      ["postrouting", 10, "linuxnet:pf-1:hairpin"],
      ["forward", 4, "linuxnet:bridge:br0"],
      ["prerouting", 6, "linuxnet:pf-1"],
      ["output", 8, "linuxnet:pf-1:host"],
    ]);
  });

  it("reads what each rule matches and does", () => {
    const [masq, , hairpin, accept, dnat, output] = table.rules;
    expect([
      addressMatch(masq!, "saddr"),
      metaMatch(masq!, "oifname"),
      verdictOf(masq!).kind,
    ]).toEqual(["10.0.0.0/24", "eth0", "masquerade"]);
    expect(addressMatch(hairpin!, "daddr")).toBe("10.0.0.2/32");
    expect(portMatch(hairpin!)).toEqual({ protocol: "tcp", port: 80 });
    expect([
      metaMatch(accept!, "iifname"),
      metaMatch(accept!, "oifname"),
      verdictOf(accept!).kind,
    ]).toEqual(["br0", "br0", "accept"]);
    expect([metaMatch(dnat!, "iifname"), portMatch(dnat!), dnatTarget(dnat!)]).toEqual([
      "eth0",
      { protocol: "tcp", port: 8080 },
      "10.0.0.2:80",
    ]);
    expect([portMatch(output!), dnatTarget(output!)]).toEqual([
      { protocol: "udp", port: 53 },
      "10.0.0.2",
    ]);
  });

  it("gives the seam our masquerade rule with its source and interface", () => {
    expect(ownedNftRule(table.rules[0]!)).toEqual({
      tag: "linuxnet:nat-1:fwd",
      source: "10.0.0.0/24",
      outInterface: "eth0",
    });
  });

  it("ignores entries of other tables, and reads no output as no table", () => {
    const other = JSON.stringify({
      nftables: [
        { table: { family: "ip", name: "nat", handle: 2 } },
        {
          rule: {
            family: "ip",
            table: "nat",
            chain: "POSTROUTING",
            handle: 3,
            comment: "linuxnet:nat-1",
            expr: [],
          },
        },
      ],
    });
    expect(parseNftTable(other)).toEqual(NO_TABLE);
    expect(parseNftTable("")).toEqual(NO_TABLE);
  });

  it.each(
    labelled([
      {
        label: "no such table (nft's words)",
        r: {
          exitCode: 1,
          stdout: "",
          stderr:
            "Error: No such file or directory\nlist table inet linuxnet\n                ^^^^^^^^\n",
        },
        outcome: NO_TABLE,
      },
      {
        label: "no such namespace",
        r: {
          exitCode: 255,
          stdout: "",
          stderr: 'Cannot open network namespace "r1": No such file or directory\n',
        },
        outcome: undefined,
      },
    ]),
  )("reads a failed list for %s as what it means", (_label, { r, outcome }) => {
    expect(isNftTableAbsent(r.stderr)).toBe(outcome === NO_TABLE);
    expect(nftTableOutcome("10.1.0.2", ["nft"], r)).toEqual(outcome);
  });

  it("throws for nft not installed, saying what to do", () => {
    const r = { exitCode: 127, stdout: "", stderr: "sh: 1: nft: not found" };
    expect(isNftMissing(r.exitCode, r.stderr)).toBe(true);
    const call = () =>
      nftTableOutcome("10.1.0.2", ["nft", "-j", "list", "table", "inet", "linuxnet"], r);
    expect(call).toThrow(CommandError);
    expect(call).toThrow(
      /nft: not found.*install nftables there, or give this resource firewall: "iptables"/,
    );
  });
});

/** A host whose `sh -c DETECT_SCRIPT` prints `word`; it records what ran. */
function detectingHost(word: string): Host & { ran: string[][] } {
  const ran: string[][] = [];
  const run = async (argv: readonly string[]): Promise<CommandResult> => {
    ran.push([...argv]);
    return { exitCode: 0, stdout: `${word}\n`, stderr: "" };
  };
  return {
    name: "10.1.0.2",
    ran,
    run,
    runOk: run,
    runSteps: async (all) => Promise.all(all.map(run)),
    runStepsOk: async (all) => Promise.all(all.map(run)),
  };
}

describe("the choice of a backend", () => {
  it.each(
    labelled([
      {
        label: "iptables when it is there and lists the nat table",
        word: "iptables",
        backend: "iptables",
      },
      { label: "nftables when only nft is there", word: "nftables", backend: "nftables" },
    ]),
  )("decides auto as %s", async (_label, { word, backend }) => {
    const host = detectingHost(word);
    expect(await chooseFirewall(host, "auto")).toBe(backend);
    expect(await chooseFirewall(host, undefined)).toBe(backend);
    expect(host.ran).toEqual([detectArgv(), detectArgv()]);
  });

  it("refuses auto on a host with neither, saying what to install", async () => {
    await expect(chooseFirewall(detectingHost("none"), "auto")).rejects.toThrow(
      /neither a working iptables nor nft/,
    );
  });

  it.each(["iptables", "nftables"] as const)(
    "takes %s as asked, without asking the host",
    async (choice) => {
      const host = detectingHost("none");
      expect(await chooseFirewall(host, choice)).toBe(choice);
      expect(host.ran).toEqual([]);
    },
  );

  it("detects with one fixed script on the host itself, iptables first", () => {
    expect(detectArgv()).toEqual(["sh", "-c", DETECT_SCRIPT]);
    expect(DETECT_SCRIPT.indexOf("iptables -w -t nat -S")).toBeLessThan(
      DETECT_SCRIPT.indexOf("nft"),
    );
    expect(parseDetected("nftables\n")).toBe("nftables");
    expect(parseDetected("none\n")).toBeUndefined();
  });

  it("maps a recorded backend to its rules, and none to iptables", () => {
    expect(firewallFor("nftables")).toBe(nftablesFirewall);
    expect(firewallFor("iptables").name).toBe("iptables");
    expect(firewallFor(undefined).name).toBe("iptables");
  });
});
