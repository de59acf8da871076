import { describe, expect, it } from "vitest";
import {
  TAG_PREFIX,
  hasTag,
  iptablesArgv,
  parseTaggedRules,
  splitRuleLine,
} from "../../../provider/host/iptables";
import { setIpForwardArgv } from "../../../provider/host/forwarding";
import { forwardSpec, iptablesIn, masqueradeSpec, taggedRule } from "../../support/rules";
import { labelled } from "../support";

describe("iptablesArgv", () => {
  it.each(
    labelled([
      { label: "on the host", ns: undefined, argv: ["iptables", "-w", "-t", "nat", "-S"] },
      {
        label: "in a namespace",
        ns: "r1",
        argv: ["ip", "netns", "exec", "r1", "iptables", "-w", "-t", "nat", "-S"],
      },
    ]),
  )("always waits for the xtables lock %s", (_label, { ns, argv }) => {
    expect(iptablesArgv(ns, "nat", "-S")).toEqual(argv);
  });
});

describe("setIpForwardArgv", () => {
  it.each(
    labelled([
      {
        label: "turns forwarding on on the host",
        ns: undefined,
        value: 1 as const,
        argv: ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
      },
      {
        label: "turns it off in a namespace",
        ns: "r1",
        value: 0 as const,
        argv: ["ip", "netns", "exec", "r1", "sysctl", "-qw", "net.ipv4.ip_forward=0"],
      },
    ]),
  )("%s", (_label, { ns, value, argv }) => {
    expect(setIpForwardArgv(ns, value)).toEqual(argv);
  });
});

describe("splitRuleLine", () => {
  it.each(
    labelled([
      {
        label: "plain words",
        line: "-A FORWARD -i br0 -o br0 -j ACCEPT",
        words: ["-A", "FORWARD", "-i", "br0", "-o", "br0", "-j", "ACCEPT"],
      },
      {
        label: "a quoted comment with colons",
        line: '-A POSTROUTING -s 10.0.0.0/24 -o eth0 -m comment --comment "linuxnet:nat-1a2b3c4d:fwd0" -j MASQUERADE',
        words: [
          "-A",
          "POSTROUTING",
          ...masqueradeSpec("10.0.0.0/24", "linuxnet:nat-1a2b3c4d:fwd0", "eth0"),
        ],
      },
      {
        label: "a quoted comment with spaces",
        line: '-A DOCKER -m comment --comment "docker managed rule" -j RETURN',
        words: [
          "-A",
          "DOCKER",
          "-m",
          "comment",
          "--comment",
          "docker managed rule",
          "-j",
          "RETURN",
        ],
      },
      {
        label: "escaped double quotes in a comment",
        line: '-A INPUT -m comment --comment "say \\"hi\\" now" -j ACCEPT',
        words: ["-A", "INPUT", "-m", "comment", "--comment", 'say "hi" now', "-j", "ACCEPT"],
      },
      {
        label: "an escaped backslash and an escaped single quote",
        line: "-A INPUT -m comment --comment \"a\\\\b \\'c\\'\" -j ACCEPT",
        words: ["-A", "INPUT", "-m", "comment", "--comment", "a\\b 'c'", "-j", "ACCEPT"],
      },
      {
        label: "an empty quoted word",
        line: '-A INPUT -m comment --comment "" -j ACCEPT',
        words: ["-A", "INPUT", "-m", "comment", "--comment", "", "-j", "ACCEPT"],
      },
      {
        label: "runs of spaces and a trailing newline",
        line: "-A  INPUT   -j DROP\n",
        words: ["-A", "INPUT", "-j", "DROP"],
      },
      { label: "an empty line", line: "", words: [] },
    ]),
  )("splits %s", (_label, { line, words }) => {
    expect(splitRuleLine(line)).toEqual(words);
  });
});

describe("parseTaggedRules", () => {
  // `iptables -w -t nat -S` on a host that runs Docker and two of our NAT rules.
  const natTable = [
    "-P PREROUTING ACCEPT",
    "-P INPUT ACCEPT",
    "-P OUTPUT ACCEPT",
    "-P POSTROUTING ACCEPT",
    "-N DOCKER",
    "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
    '-A POSTROUTING -s 10.0.0.0/24 -o eth0 -m comment --comment "linuxnet:nat-1a2b3c4d:fwd0" -j MASQUERADE',
    '-A POSTROUTING -s 10.0.1.0/24 -m comment --comment "linuxnet:nat-0badf00d" -j MASQUERADE',
    '-A POSTROUTING -s 10.9.0.0/16 -m comment --comment "someone else\'s linuxnet: rule" -j MASQUERADE',
    '-A POSTROUTING -s 10.8.0.0/16 -m comment --comment "not-linuxnet:nat-1" -j MASQUERADE',
    "-A DOCKER -i docker0 -j RETURN",
    "",
  ].join("\n");

  it("finds only the rules that carry our tag, with their chain and spec", () => {
    expect(parseTaggedRules(natTable)).toEqual([
      {
        chain: "POSTROUTING",
        spec: masqueradeSpec("10.0.0.0/24", "linuxnet:nat-1a2b3c4d:fwd0", "eth0"),
        tag: "linuxnet:nat-1a2b3c4d:fwd0",
      },
      {
        chain: "POSTROUTING",
        spec: masqueradeSpec("10.0.1.0/24", "linuxnet:nat-0badf00d"),
        tag: "linuxnet:nat-0badf00d",
      },
    ]);
  });

  it("gives the spec that -D needs to delete the very rule", () => {
    const [rule] = parseTaggedRules(natTable);
    expect(iptablesArgv(undefined, "nat", "-D", rule!.chain, ...rule!.spec)).toEqual([
      ...iptablesIn(undefined, "nat", "-D", "POSTROUTING"),
      ...masqueradeSpec("10.0.0.0/24", "linuxnet:nat-1a2b3c4d:fwd0", "eth0"),
    ]);
  });

  it.each(
    labelled([
      { label: "empty output", stdout: "" },
      { label: "policies only", stdout: "-P FORWARD DROP\n-P INPUT ACCEPT\n" },
      {
        label: "rules of others only",
        stdout:
          '-P FORWARD DROP\n-A FORWARD -i docker0 -o docker0 -j ACCEPT\n-A FORWARD -m comment --comment "kube" -j KUBE-FORWARD\n',
      },
      { label: "a chain named with our prefix", stdout: "-N linuxnet:x\n" },
    ]),
  )("finds nothing in %s", (_label, { stdout }) => {
    expect(parseTaggedRules(stdout)).toEqual([]);
  });

  it("reads a bridge's forwarding rule from the filter table", () => {
    const stdout = [
      "-P FORWARD DROP",
      '-A FORWARD -i br0 -o br0 -m comment --comment "linuxnet:bridge:br0" -j ACCEPT',
      "-A FORWARD -j DOCKER-USER",
    ].join("\n");
    expect(parseTaggedRules(stdout)).toEqual([
      {
        chain: "FORWARD",
        spec: forwardSpec("br0", "linuxnet:bridge:br0"),
        tag: "linuxnet:bridge:br0",
      },
    ]);
  });

  it("uses the prefix it exports", () => {
    expect(TAG_PREFIX).toBe("linuxnet:");
  });
});

describe("hasTag", () => {
  const rule = taggedRule;
  it.each(
    labelled([
      { label: "the tag itself", ruleTag: "linuxnet:nat-1", tag: "linuxnet:nat-1", has: true },
      {
        label: "the tag with a suffix after a colon",
        ruleTag: "linuxnet:nat-1:fwd0",
        tag: "linuxnet:nat-1",
        has: true,
      },
      {
        label: "a longer id that starts the same",
        ruleTag: "linuxnet:nat-10:fwd0",
        tag: "linuxnet:nat-1",
        has: false,
      },
      {
        label: "a longer id without a suffix",
        ruleTag: "linuxnet:nat-10",
        tag: "linuxnet:nat-1",
        has: false,
      },
      {
        label: "a bridge whose name starts the same",
        ruleTag: "linuxnet:bridge:br01",
        tag: "linuxnet:bridge:br0",
        has: false,
      },
      { label: "another id", ruleTag: "linuxnet:nat-2:fwd1", tag: "linuxnet:nat-1", has: false },
      { label: "a shorter tag", ruleTag: "linuxnet:nat", tag: "linuxnet:nat-1", has: false },
    ]),
  )("tells %s", (_label, { ruleTag, tag, has }) => {
    expect(hasTag(rule(ruleTag), tag)).toBe(has);
  });
});
