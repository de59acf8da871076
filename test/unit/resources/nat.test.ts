import { describe, expect, it } from "vitest";
import {
  type NatInputs,
  type NatOutputs,
  natKind,
  othersNeedForwarding,
} from "../../../provider/resources/nat";
import {
  masqueradeSpec as planMasqueradeSpec,
  planMasqueradeAppend,
} from "../../../provider/firewall/iptables";
import { parseTaggedRules } from "../../../provider/host/iptables";
import { iptablesIn, masqueradeSpec, taggedRule } from "../../support/rules";
import { CONNECTION, PROVIDER_KEY, UNKNOWN, labelled, inputsFor } from "../support";

const inputs = inputsFor<NatInputs>("egress", {
  source: "10.0.0.0/24",
  outInterface: "eth0",
});

describe("natKind.check", () => {
  it("turns forwarding on unless told otherwise", () => {
    const { inputs: out, failures } = natKind.check(undefined, inputs());
    expect(failures).toEqual([]);
    expect(out).toMatchObject({ source: "10.0.0.0/24", outInterface: "eth0", forwarding: true });
  });

  it("leaves a missing source out of its inputs, so the engine can show the failure", () => {
    const { source: _source, ...withoutSource } = inputs();
    const { inputs: out, failures } = natKind.check(undefined, withoutSource as NatInputs);
    expect(failures.map((f) => f.property)).toEqual(["source"]);
    expect(Object.keys(out)).not.toContain("source");
  });

  it("keeps forwarding false when it is given", () => {
    expect(natKind.check(undefined, inputs({ forwarding: false })).inputs.forwarding).toBe(false);
  });

  it.each(
    labelled([
      { label: "a zero-padded prefix", source: "10.0.0.0/024", normal: "10.0.0.0/24" },
      { label: "the whole IPv4 space", source: "0.0.0.0/0", normal: "0.0.0.0/0" },
      { label: "a single host", source: "10.0.0.7/32", normal: "10.0.0.7/32" },
    ]),
  )("normalises %s", (_label, { source, normal }) => {
    const { inputs: out, failures } = natKind.check(undefined, inputs({ source }));
    expect(failures).toEqual([]);
    expect(out.source).toBe(normal);
  });

  it("accepts a rule for any outgoing interface", () => {
    expect(natKind.check(undefined, inputs({ outInterface: undefined })).failures).toEqual([]);
  });

  it.each(
    labelled([
      { label: "no source", over: { source: undefined }, property: "source" },
      { label: "an IPv6 source", over: { source: "fd00::/64" }, property: "source" },
      { label: "a source with host bits", over: { source: "10.0.0.1/24" }, property: "source" },
      { label: "forwarding as a string", over: { forwarding: "true" }, property: "forwarding" },
    ]),
  )("refuses %s", (_label, { over, property }) => {
    const { failures } = natKind.check(undefined, inputs(over));
    expect(failures.map((f) => f.property)).toEqual([property]);
    expect(failures[0]!.reason).not.toBe("");
  });

  it.each(
    labelled([
      { label: "the source", over: { source: UNKNOWN } },
      { label: "the outgoing interface", over: { outInterface: UNKNOWN } },
      { label: "the namespace", over: { namespace: UNKNOWN } },
      { label: "forwarding", over: { forwarding: UNKNOWN } },
      { label: "the connection's host", over: { connection: { ...CONNECTION, host: UNKNOWN } } },
    ]),
  )("lets an unknown value through in %s", (_label, { over }) => {
    expect(natKind.check(undefined, inputs(over)).failures).toEqual([]);
  });
});

describe("natKind.diff", () => {
  const olds: NatOutputs = {
    ...inputs(),
    forwarding: true,
    tag: "linuxnet:nat-1a2b3c4d:fwd0",
    forwardingBefore: 0,
  };
  const news = (over: Record<string, unknown>) =>
    ({ ...inputs(), forwarding: true, ...over }) as NatInputs;
  const replace = (field: string) => ({
    changes: true,
    replaces: [field],
    deleteBeforeReplace: false,
  });

  it.each(
    labelled([
      {
        label: "nothing for the same inputs",
        over: {},
        diff: { changes: false, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "nothing when only the serialized provider differs",
        over: { [PROVIDER_KEY]: "v2" },
        diff: { changes: false, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "an update of state alone for a rotated key",
        over: { connection: { ...CONNECTION, privateKey: "k2" } },
        diff: { changes: true, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "a replacement, new first, for a new source",
        over: { source: "10.0.1.0/24" },
        diff: replace("source"),
      },
      {
        label: "a replacement, new first, for a new interface",
        over: { outInterface: "eth1" },
        diff: replace("outInterface"),
      },
      {
        label: "a replacement, new first, for a new namespace",
        over: { namespace: "r1" },
        diff: replace("namespace"),
      },
      {
        label: "a replacement, new first, for forwarding",
        over: { forwarding: false },
        diff: replace("forwarding"),
      },
      {
        label: "a replacement, new first, for another host",
        over: { connection: { ...CONNECTION, host: "10.1.0.9" } },
        diff: replace("connection"),
      },
    ]),
  )("gives %s", (_label, { over, diff }) => {
    expect(natKind.diff(olds, news(over))).toEqual(diff);
  });
});

describe("the iptables firewall's masquerade rule", () => {
  const tag = "linuxnet:nat-1a2b3c4d:fwd0";
  it.each(
    labelled([
      {
        label: "on the host, out of one interface",
        n: inputs(),
        argv: [
          ...iptablesIn(undefined, "nat", "-A", "POSTROUTING"),
          ...masqueradeSpec("10.0.0.0/24", tag, "eth0"),
        ],
      },
      {
        label: "on the host, out of any interface",
        n: inputs({ outInterface: undefined }),
        argv: [
          ...iptablesIn(undefined, "nat", "-A", "POSTROUTING"),
          ...masqueradeSpec("10.0.0.0/24", tag),
        ],
      },
      {
        label: "in a router namespace",
        n: inputs({ namespace: "r1" }),
        argv: [
          ...iptablesIn("r1", "nat", "-A", "POSTROUTING"),
          ...masqueradeSpec("10.0.0.0/24", tag, "eth0"),
        ],
      },
    ]),
  )("appends a tagged MASQUERADE rule %s", (_label, { n, argv }) => {
    expect(planMasqueradeAppend(n.namespace, n, tag)).toEqual(argv);
  });

  it("writes the rule in the order iptables -S prints it back", () => {
    const printed = `-A POSTROUTING -s 10.0.0.0/24 -o eth0 -m comment --comment "${tag}" -j MASQUERADE`;
    expect(parseTaggedRules(printed)[0]!.spec).toEqual(planMasqueradeSpec(inputs(), tag));
  });
});

describe("othersNeedForwarding", () => {
  const rule = taggedRule;

  it.each(
    labelled([
      { label: "no when there are no rules", rules: [], needed: false },
      {
        label: "no when no other rule needs forwarding",
        rules: [rule("linuxnet:nat-2")],
        needed: false,
      },
      {
        label: "yes for another rule tagged :fwd",
        rules: [rule("linuxnet:nat-2:fwd")],
        needed: true,
      },
      {
        label: "yes for another rule with an older :fwd0 tag",
        rules: [rule("linuxnet:nat-2:fwd0")],
        needed: true,
      },
      {
        label: "yes for another rule with an older :fwd1 tag",
        rules: [rule("linuxnet:nat-2:fwd1")],
        needed: true,
      },
      {
        label: "no when the only such rule is the excepted one",
        rules: [rule("linuxnet:nat-1:fwd")],
        needed: false,
      },
      {
        label: "yes for nat-10 when nat-1 is excepted (a tag prefix is not a match)",
        rules: [rule("linuxnet:nat-1:fwd"), rule("linuxnet:nat-10:fwd")],
        needed: true,
      },
      {
        label: "no for a tag that merely contains fwd",
        rules: [rule("linuxnet:nat-2:fwd2")],
        needed: false,
      },
      { label: "no for a bridge's rule", rules: [rule("linuxnet:bridge:br0")], needed: false },
    ]),
  )("answers %s", (_label, { rules, needed }) => {
    expect(othersNeedForwarding(rules, "linuxnet:nat-1")).toBe(needed);
  });
});
