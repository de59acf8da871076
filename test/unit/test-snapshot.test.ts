/**
 * The test tiers' host snapshot compares `nft -j list ruleset`: what it
 * leaves out (handles, counters, what iptables-nft makes and leaves empty)
 * and what it must keep (any other table, an empty one of ours above all).
 */

import { describe, expect, it } from "vitest";
import { nftRuleSet } from "../support/snapshot";

const meta = {
  metainfo: { version: "1.0.6", release_name: "Lester Gooch #5", json_schema_version: 1 },
};
const table = (family: string, name: string, handle: number) => ({
  table: { family, name, handle },
});
const chain = (family: string, t: string, name: string, handle: number, policy = "accept") => ({
  chain: { family, table: t, name, handle, type: "filter", hook: "forward", prio: 0, policy },
});
const list = (...entries: unknown[]) => JSON.stringify({ nftables: [meta, ...entries] });

describe("nftRuleSet", () => {
  it("reads an empty rule set as nothing", () => {
    expect(nftRuleSet(list())).toBe("[]");
    expect(nftRuleSet("")).toBe("[]");
  });

  it("leaves out a table iptables-nft made and left with only ACCEPT base chains", () => {
    expect(nftRuleSet(list(table("ip", "nat", 1), chain("ip", "nat", "POSTROUTING", 1)))).toBe(
      "[]",
    );
  });

  it.each([
    { label: "an empty table of ours", entries: [table("inet", "linuxnet", 1)] },
    {
      label: "iptables-nft's table with a DROP policy",
      entries: [table("ip", "filter", 1), chain("ip", "filter", "FORWARD", 1, "drop")],
    },
    {
      label: "iptables-nft's table with a rule",
      entries: [
        table("ip", "nat", 1),
        chain("ip", "nat", "POSTROUTING", 1),
        {
          rule: {
            family: "ip",
            table: "nat",
            chain: "POSTROUTING",
            handle: 2,
            expr: [{ masquerade: null }],
          },
        },
      ],
    },
  ])("keeps $label", ({ entries }) => {
    expect(JSON.parse(nftRuleSet(list(...entries)))).toHaveLength(entries.length);
  });

  it("compares without handles and counters, which change with no one changing the rules", () => {
    const rule = (handle: number, packets: number) => ({
      rule: {
        family: "inet",
        table: "t",
        chain: "c",
        handle,
        expr: [{ counter: { packets, bytes: packets * 84 } }, { accept: null }],
      },
    });
    expect(nftRuleSet(list(table("inet", "t", 1), rule(2, 0)))).toBe(
      nftRuleSet(list(table("inet", "t", 7), rule(9, 42))),
    );
  });
});
