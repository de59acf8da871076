import { stableMac } from "../../../provider/resources/link";
import { describe, expect, it } from "vitest";
import {
  type BridgeInputs,
  bridgeKind,
  bridgeRuleTag,
  planBridgeAdd,
} from "../../../provider/resources/bridge";
import { planBridgeAccept } from "../../../provider/firewall/iptables";
import { linkId } from "../../../provider/resources/link";
import { parseTaggedRules } from "../../../provider/host/iptables";
import { forwardSpec, iptablesIn } from "../../support/rules";
import { CONNECTION, PROVIDER_KEY, UNKNOWN, labelled, inputsFor } from "../support";

const inputs = inputsFor<BridgeInputs>("lan", {
  name: "br0",
  addresses: ["10.0.0.254/24"],
});

describe("bridgeKind.check", () => {
  it("applies the defaults: up, no forwarding rule", () => {
    const { inputs: out, failures } = bridgeKind.check(undefined, inputs());
    expect(failures).toEqual([]);
    expect(out).toMatchObject({ name: "br0", autoNamed: false, up: true, acceptForwarding: false });
  });

  it.each(
    labelled([
      { label: "an IPv6 address in capitals", given: ["FD00:0:0::1/64"], normal: ["fd00::1/64"] },
      { label: "a zero-padded prefix", given: ["10.0.0.254/024"], normal: ["10.0.0.254/24"] },
      { label: "no addresses at all", given: undefined, normal: [] },
      { label: "an empty list", given: [], normal: [] },
    ]),
  )("normalises %s", (_label, { given, normal }) => {
    const { inputs: out, failures } = bridgeKind.check(undefined, inputs({ addresses: given }));
    expect(failures).toEqual([]);
    expect(out.addresses).toEqual(normal);
  });

  it("keeps up and acceptForwarding as given", () => {
    const { inputs: out } = bridgeKind.check(
      undefined,
      inputs({ up: false, acceptForwarding: true }),
    );
    expect(out).toMatchObject({ up: false, acceptForwarding: true });
  });

  it("names an unnamed bridge within 15 bytes, after its resource", () => {
    const { inputs: out, failures } = bridgeKind.check(
      undefined,
      inputs({ name: undefined, resourceName: "a-very-long-resource-name" }),
    );
    expect(failures).toEqual([]);
    expect(out.autoNamed).toBe(true);
    expect(Buffer.byteLength(out.name)).toBeLessThanOrEqual(15);
    expect(out.name).toMatch(/^a-very-lo-[0-9a-f]{5}$/);
  });

  it.each(
    labelled([
      { label: "a resource name of unicode only", resourceName: "мост" },
      { label: "a resource name that starts with dashes", resourceName: "--lan" },
      { label: "a resource name with shell characters", resourceName: "$(reboot);x" },
      { label: "no resource name", resourceName: undefined },
    ]),
  )("makes a valid interface name from %s", (_label, { resourceName }) => {
    const { inputs: out, failures } = bridgeKind.check(
      undefined,
      inputs({ name: undefined, resourceName }),
    );
    expect(failures).toEqual([]);
    expect(out.name).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/);
  });

  it("keeps the name it generated before", () => {
    const olds = {
      ...inputs(),
      name: "lan-12345",
      autoNamed: true,
      up: true,
      acceptForwarding: false,
    };
    expect(bridgeKind.check(olds, inputs({ name: undefined })).inputs).toMatchObject({
      name: "lan-12345",
      autoNamed: true,
    });
  });

  it.each(
    labelled([
      { label: "the name", over: { name: UNKNOWN } },
      { label: "the namespace", over: { namespace: UNKNOWN } },
      { label: "the whole address list", over: { addresses: UNKNOWN } },
      { label: "one address", over: { addresses: ["10.0.0.254/24", UNKNOWN] } },
      { label: "the MTU", over: { mtu: UNKNOWN } },
      { label: "up", over: { up: UNKNOWN } },
      { label: "acceptForwarding", over: { acceptForwarding: UNKNOWN } },
      { label: "the connection's host", over: { connection: { ...CONNECTION, host: UNKNOWN } } },
      { label: "the whole connection", over: { connection: UNKNOWN } },
    ]),
  )("lets an unknown value through in %s", (_label, { over }) => {
    expect(bridgeKind.check(undefined, inputs(over)).failures).toEqual([]);
  });

  it("keeps an unknown address list as it is", () => {
    expect(bridgeKind.check(undefined, inputs({ addresses: UNKNOWN })).inputs.addresses).toBe(
      UNKNOWN,
    );
  });
});

describe("bridgeKind.diff", () => {
  const olds = { ...inputs(), autoNamed: false, up: true, acceptForwarding: false };
  const none = { changes: false, replaces: [], deleteBeforeReplace: false };
  const update = { changes: true, replaces: [], deleteBeforeReplace: false };

  it.each(
    labelled([
      { label: "nothing for the same inputs", over: {}, diff: none },
      {
        label: "nothing when only the serialized provider differs",
        over: { [PROVIDER_KEY]: "v2" },
        diff: none,
      },
      { label: "an update for new addresses", over: { addresses: ["10.0.0.1/24"] }, diff: update },
      { label: "an update for an MTU", over: { mtu: 9000 }, diff: update },
      { label: "an update for up", over: { up: false }, diff: update },
      { label: "an update for acceptForwarding", over: { acceptForwarding: true }, diff: update },
      {
        label: "an update for a rotated key",
        over: { connection: { ...CONNECTION, privateKey: "k2" } },
        diff: update,
      },
      {
        label: "a replacement, new first, for a new name",
        over: { name: "br1" },
        diff: { changes: true, replaces: ["name"], deleteBeforeReplace: false },
      },
      {
        label: "a replacement, delete first, for a new namespace",
        over: { namespace: "r1" },
        diff: { changes: true, replaces: ["namespace"], deleteBeforeReplace: true },
      },
      {
        label: "a replacement, delete first, for another host",
        over: { connection: { ...CONNECTION, host: "10.1.0.9" } },
        diff: { changes: true, replaces: ["connection"], deleteBeforeReplace: true },
      },
      {
        label: "a replacement, delete first, for a name not known yet",
        over: { name: UNKNOWN },
        diff: { changes: true, replaces: ["name"], deleteBeforeReplace: true },
      },
    ]),
  )("gives %s", (_label, { over, diff }) => {
    expect(bridgeKind.diff(olds, { ...olds, ...over } as BridgeInputs)).toEqual(diff);
  });
});

describe("planBridgeAdd", () => {
  const mac = (namespace?: string) => stableMac(inputs().connection?.host, namespace, "br0");
  it.each(
    labelled([
      {
        label: "on the host",
        namespace: undefined,
        argv: ["ip", "link", "add", "name", "br0", "address", mac(undefined), "type", "bridge"],
      },
      {
        label: "in a namespace",
        namespace: "r1",
        argv: [
          "ip",
          "-n",
          "r1",
          "link",
          "add",
          "name",
          "br0",
          "address",
          mac("r1"),
          "type",
          "bridge",
        ],
      },
    ]),
  )("adds a bridge %s", (_label, { namespace, argv }) => {
    expect(planBridgeAdd(inputs({ namespace }))).toEqual(argv);
  });
});

describe("the iptables firewall's bridge accept rule", () => {
  const planForwardRule = (namespace: string | undefined, name: string) =>
    planBridgeAccept(namespace, name, bridgeRuleTag(name));

  it("inserts a tagged ACCEPT between the bridge's own ports first in FORWARD", () => {
    expect(planForwardRule(undefined, "br0")).toEqual([
      ...iptablesIn(undefined, "filter", "-I", "FORWARD", "1"),
      ...forwardSpec("br0", "linuxnet:bridge:br0"),
    ]);
  });

  it("runs inside the namespace of the bridge", () => {
    expect(planForwardRule("r1", "br0").slice(0, 5)).toEqual([
      "ip",
      "netns",
      "exec",
      "r1",
      "iptables",
    ]);
  });

  it("is found again by its tag in what iptables -S prints", () => {
    const printed = '-A FORWARD -i br0 -o br0 -m comment --comment "linuxnet:bridge:br0" -j ACCEPT';
    const [rule] = parseTaggedRules(printed);
    expect(rule!.tag).toBe(bridgeRuleTag("br0"));
    expect(rule!.spec).toEqual(planForwardRule(undefined, "br0").slice(7));
  });
});

describe("linkId", () => {
  it.each(
    labelled([
      { label: "a link on the host", namespace: undefined, id: "/br0" },
      { label: "a link in a namespace", namespace: "r1", id: "r1/br0" },
    ]),
  )("names %s by namespace and name", (_label, { namespace, id }) => {
    expect(linkId(namespace, "br0")).toBe(id);
  });
});
