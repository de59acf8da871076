/**
 * NatRule: masquerade traffic from a source network as it leaves a host (or
 * a router namespace), and turn on IPv4 forwarding there while it is needed.
 *
 * The rule is tagged `linuxnet:<id>` and found and removed by that tag only;
 * a rule that needs forwarding is tagged `linuxnet:<id>:fwd`. Forwarding is a
 * shared setting: the first of our rules to turn it on records the value it
 * found on the host, and the last of them to go puts that value back,
 * whatever order rules come and go in, and even after our rules were flushed
 * behind our back; the mechanism is shared with PortForward (forwarding.ts).
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import { LinuxnetResource } from "./program";
import { randomBytes } from "node:crypto";
import { removeForwardingRecord } from "../host/forwarding";
import { liveReader } from "../host/reader";
import {
  type FirewallBackend,
  type FirewallChoice,
  chooseFirewall,
  firewallFor,
  tagged,
} from "../firewall";
import { withLock } from "./lock";
import { type BaseInputs, transactional } from "./kind";
import { type FieldType, bool, checked, connection, declareKind, firewallField } from "./declare";
import { forwardingLockKey, holdForwarding, releaseForwarding } from "./forwarding";
import { interfaceNameProblem, isUnknown, namespaceNameProblem, parseNetwork } from "./validate";

/** Inputs of a NatRule, as the provider sees them. */
export interface NatInputs extends BaseInputs {
  /** Where the rule lives; the host itself when unset. */
  readonly namespace?: string;
  /** The source network to masquerade: `10.0.0.0/24`. */
  readonly source: string;
  /** Only traffic leaving by this interface (`eth0`); any when unset. */
  readonly outInterface?: string;
  /** Turn on `net.ipv4.ip_forward` where the rule lives, while it exists; true. */
  readonly forwarding: boolean;
  /** The firewall backend asked for; `auto` (decided at create). */
  readonly firewall?: FirewallChoice;
}

/** Outputs of a NatRule. */
export interface NatOutputs extends NatInputs {
  /** The comment tag on the rule. */
  readonly tag: string;
  /** `ip_forward` as it was before the first of our rules there turned it on (0 or 1). */
  readonly forwardingBefore?: 0 | 1;
  /** The backend the rule was made with; unset in state from before the choice existed: iptables. */
  readonly firewallBackend?: FirewallBackend;
}

/** Who else needs forwarding: shared with PortForward (forwarding.ts). */
export { othersNeedForwarding } from "./forwarding";

function baseTag(id: string): string {
  return `linuxnet:${id}`;
}

/** The network to masquerade: IPv4 (as the iptables rule is), normalised; required. */
const source: FieldType = {
  check(value, ctx) {
    if (value === undefined) {
      ctx.checker.fail(ctx.path, `is required: a network like "10.0.0.0/24"`);
      return undefined;
    }
    if (isUnknown(value)) return undefined;
    const net = parseNetwork(value);
    if (typeof net === "string") ctx.checker.fail(ctx.path, net);
    else if (net.family !== "inet")
      ctx.checker.fail(
        ctx.path,
        "must be an IPv4 network (this rule is for iptables, not ip6tables)",
      );
    else return net.cidr;
    return undefined;
  },
};

/** The NatRule kind: its inputs as declared, and its lifecycle. */
export const natKind = declareKind<NatInputs, NatOutputs>({
  name: "NatRule",
  // Every field of the rule replaces it: a rule has nothing to update in place.
  fields: {
    connection: connection("replace-on-host"),
    namespace: { type: checked(namespaceNameProblem), change: "replace" },
    source: { type: source, change: "replace" },
    outInterface: { type: checked(interfaceNameProblem), change: "replace" },
    forwarding: { type: bool(true), change: "replace" },
    firewall: firewallField("replace"),
  },
  outputs: ["tag", "forwardingBefore", "firewallBackend"],
  // A replacement gets a new id and tag: old and new may exist together for a moment.
  snapshotRead: true,
  deleteBeforeReplace: false,

  idOf: () => `nat-${randomBytes(4).toString("hex")}`,

  async create(host, inputs, id) {
    const firewallBackend = await chooseFirewall(host, inputs.firewall);
    const firewall = firewallFor(firewallBackend);
    return withLock(forwardingLockKey(host.name, inputs.namespace), () =>
      transactional(async (undo) => {
        const ns = inputs.namespace;
        const tag = inputs.forwarding ? `${baseTag(id)}:fwd` : baseTag(id);
        let forwardingBefore: 0 | 1 | undefined;
        if (inputs.forwarding) {
          // A namespace that is not there fails here, with the kernel's words, before forwarding changes.
          await firewall.assertMasqueradesReadable(host, ns);
          forwardingBefore = await holdForwarding(host, ns, undo);
        }
        await firewall.addMasquerade(host, ns, inputs, tag);
        undo(() => firewall.deleteMasquerades(host, ns, baseTag(id)));
        const rules = await firewall.masquerades(liveReader(host), ns);
        if (!(rules ?? []).some((x) => tagged(x, baseTag(id)))) {
          throw new Error(
            `on ${host.name}: the NAT rule ${tag} was appended but does not read back`,
          );
        }
        return { ...inputs, tag, forwardingBefore, firewallBackend };
      }),
    );
  },

  async read(reader, id, props) {
    const rules = await firewallFor(props.firewallBackend).masquerades(reader, props.namespace);
    const ours = (rules ?? []).find((x) => tagged(x, baseTag(id)));
    if (!ours) return undefined;
    // Forwarding turned off behind our back is drift: `up` turns it on again.
    const forwarding = props.forwarding ? (await reader.ipForward(props.namespace)) === 1 : false;
    return {
      ...props,
      source: ours.source ?? props.source,
      outInterface: ours.outInterface,
      forwarding,
    };
  },

  async update(_host, _id, olds, news) {
    // Every field of the rule replaces; what is left to update is the connection, which is state only.
    return {
      ...news,
      tag: olds.tag,
      forwardingBefore: olds.forwardingBefore,
      firewallBackend: olds.firewallBackend,
    };
  },

  async delete(host, id, props) {
    const ns = props.namespace;
    const firewall = firewallFor(props.firewallBackend);
    return withLock(forwardingLockKey(host.name, ns), async () => {
      const live = liveReader(host);
      if (!(await firewall.masquerades(live, ns))) {
        // The namespace is gone, and the rule and its forwarding setting with it.
        await removeForwardingRecord(host, ns);
        return;
      }
      await firewall.deleteMasquerades(host, ns, baseTag(id));
      // Read again after our own rule went: what is left is what still needs forwarding.
      if (props.forwarding) await releaseForwarding(host, ns, baseTag(id));
    });
  },
});

/**
 * Arguments of a {@link NatRule}. Every field replaces the rule when it
 * changes. Each rule is tagged with its own fresh id, so the new rule is
 * appended before the old one is removed: no gap in between.
 */
export interface NatRuleArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the rule; any other change updates the stored
   * connection in place (see {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The namespace the rule lives in (a router namespace): `router.name`. The
   * host itself when omitted. Changing it replaces the rule.
   */
  namespace?: pulumi.Input<string>;
  /**
   * The source network to masquerade, IPv4 in CIDR form with its host bits
   * zero (the rule is iptables, not ip6tables): `"10.0.0.0/24"`. Required.
   * Changing it replaces the rule.
   */
  source: pulumi.Input<string>;
  /**
   * Only traffic leaving by this interface: `"eth0"`. Any interface when
   * omitted, which also masquerades what the host routes between its own
   * networks. Changing it replaces the rule.
   */
  outInterface?: pulumi.Input<string>;
  /**
   * Turn on `net.ipv4.ip_forward` where the rule lives while it exists: NAT
   * for a network behind the host is useless without it. The first of our
   * rules there records the value it found, and the last to go puts it back.
   * True when omitted; `false` where something else manages forwarding.
   * Changing it replaces the rule.
   */
  forwarding?: pulumi.Input<boolean>;
  /**
   * The firewall that holds the rule: `"iptables"` (a tagged rule in the
   * `nat` table's POSTROUTING), `"nftables"` (a tagged rule in our own table
   * `inet linuxnet`, chain `postrouting` at priority 100, removed with our
   * last rule), or `"auto"`: iptables where the `iptables` command works,
   * else nftables; decided once, at create, and kept in the
   * `firewallBackend` output, so a later change on the host never moves the
   * rule. The stack's `linuxnet:firewall` when omitted, else `"auto"`.
   * Changing it replaces the rule.
   */
  firewall?: pulumi.Input<"auto" | "iptables" | "nftables">;
}

/**
 * Source NAT for a network leaving a host.
 * Equivalent to: `sysctl -w net.ipv4.ip_forward=1 && iptables -w -t nat -A POSTROUTING -s SRC -o OUT -m comment --comment linuxnet:ID -j MASQUERADE`
 * (with nftables: `nft add rule inet linuxnet postrouting ip saddr SRC oifname "OUT" masquerade comment "linuxnet:ID"`)
 */
export class NatRule extends LinuxnetResource {
  /** The source network as the rule on the host has it: `"10.0.0.0/24"`. */
  declare readonly source: pulumi.Output<string>;
  /** The outgoing interface as the rule on the host has it; undefined for any. */
  declare readonly outInterface: pulumi.Output<string | undefined>;
  /**
   * Whether forwarding is on where the rule lives, as last read, for a rule
   * that asked for it (forwarding turned off behind our back shows here as drift).
   */
  declare readonly forwarding: pulumi.Output<boolean>;
  /** The comment tag that marks the rule on the host. */
  declare readonly tag: pulumi.Output<string>;
  /** The firewall asked for: `"auto"`, `"iptables"` or `"nftables"`. */
  declare readonly firewall: pulumi.Output<string>;
  /** The backend the rule was made with, `"iptables"` or `"nftables"`, as decided at create. */
  declare readonly firewallBackend: pulumi.Output<string>;
  /**
   * @param name - The resource's name in the stack.
   * @param args - The rule: `source`, and optionally `outInterface`, `namespace`, `forwarding`.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: NatRuleArgs, opts?: pulumi.CustomResourceOptions) {
    super(natKind, name, args, opts);
  }
}
