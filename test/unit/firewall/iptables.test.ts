import { describe, expect, it } from "vitest";
import { firewallFor, tagged } from "../../../provider/firewall";
import { iptablesFirewall, ownedRule } from "../../../provider/firewall/iptables";
import { parseTaggedRules } from "../../../provider/host/iptables";
import type { HostReader } from "../../../provider/host/reader";
import { labelled } from "../support";

describe("the firewall seam", () => {
  it("gives iptables for state that recorded no backend, from before the choice existed", () => {
    expect(firewallFor().name).toBe("iptables");
  });

  it.each(
    labelled([
      { label: "the tag itself", tag: "linuxnet:nat-1", has: true },
      { label: "the tag with more after a colon", tag: "linuxnet:nat-1:fwd", has: true },
      { label: "a tag it is only a prefix of", tag: "linuxnet:nat-10", has: false },
    ]),
  )("counts a rule tagged with %s as the tag's", (_label, { tag, has }) => {
    expect(tagged({ tag }, "linuxnet:nat-1")).toBe(has);
  });
});

describe("the iptables backend", () => {
  it.each(
    labelled([
      {
        label: "a masquerade out of one interface",
        line: '-A POSTROUTING -s 10.0.0.0/24 -o eth0 -m comment --comment "linuxnet:nat-1:fwd" -j MASQUERADE',
        rule: { tag: "linuxnet:nat-1:fwd", source: "10.0.0.0/24", outInterface: "eth0" },
      },
      {
        label: "a masquerade out of any interface",
        line: "-A POSTROUTING -s 10.0.0.0/24 -m comment --comment linuxnet:nat-1 -j MASQUERADE",
        rule: { tag: "linuxnet:nat-1", source: "10.0.0.0/24" },
      },
      {
        label: "a bridge's accept, which has no source",
        line: '-A FORWARD -i br0 -o br0 -m comment --comment "linuxnet:bridge:br0" -j ACCEPT',
        rule: { tag: "linuxnet:bridge:br0", outInterface: "br0" },
      },
    ]),
  )("reads %s as the rule's tag and what it matches", (_label, { line, rule }) => {
    expect(ownedRule(parseTaggedRules(line)[0]!)).toEqual(rule);
  });

  it("reads masquerades from the nat table's POSTROUTING chain, and none from a namespace not there", async () => {
    const asked: string[] = [];
    const reader = {
      taggedRules: async (namespace: string | undefined, table: string, chain?: string) => {
        asked.push(`${namespace}/${table}/${chain}`);
        return namespace === "gone" ? undefined : parseTaggedRules("");
      },
    } as unknown as HostReader;
    expect(await iptablesFirewall.masquerades(reader, "r1")).toEqual([]);
    expect(await iptablesFirewall.masquerades(reader, "gone")).toBeUndefined();
    expect(await iptablesFirewall.forwardAccepts(reader, undefined)).toEqual([]);
    expect(asked).toEqual([
      "r1/nat/POSTROUTING",
      "gone/nat/POSTROUTING",
      "undefined/filter/FORWARD",
    ]);
  });
});
