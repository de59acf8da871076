/**
 * Bridge: a Linux bridge (a virtual switch), on the host or inside a
 * namespace, with optional addresses (a gateway for the namespaces behind it)
 * and an optional rule that lets traffic pass between its own ports where the
 * FORWARD chain's policy is DROP.
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import { LinuxnetResource } from "./program";
import {
  type FirewallBackend,
  type FirewallChoice,
  chooseFirewall,
  firewallFor,
  tagged,
} from "../firewall";
import { withTableLock } from "../firewall/nftables";
import type { HostReader } from "../host/reader";
import type { BaseInputs } from "./kind";
import {
  addressList,
  bool,
  checked,
  connection,
  adoptField,
  declareKind,
  firewallField,
  generatedName,
} from "./declare";
import {
  type LinkSettings,
  createLink,
  deleteLink,
  planLinkMark,
  linkId,
  managedView,
  planLinkAdd,
  readLink,
  stableMac,
  updateLink,
} from "./link";
import { markFor } from "./owner";
import {
  MAX_INTERFACE_NAME_BYTES,
  interfaceNameProblem,
  mtuProblem,
  namespaceNameProblem,
} from "./validate";

/** Inputs of a Bridge, as the provider sees them. */
export interface BridgeInputs extends BaseInputs {
  readonly name: string;
  readonly autoNamed?: boolean;
  /** The namespace it lives in; the host's own when unset. */
  readonly namespace?: string;
  /** Addresses on the bridge itself, e.g. the gateway `10.0.0.254/24`. */
  readonly addresses: string[];
  readonly mtu?: number;
  /** Administratively up; true. */
  readonly up: boolean;
  /**
   * Accept forwarding between the bridge's own ports in the FORWARD chain
   * (`-i br -o br -j ACCEPT`), for hosts whose FORWARD policy is DROP and
   * where br_netfilter sends bridged traffic through iptables; false.
   */
  readonly acceptForwarding: boolean;
  /** The firewall backend asked for the forwarding rule; `auto`. */
  readonly firewall?: FirewallChoice;
  /** Take over an existing unmarked object of this name. */
  readonly adopt?: boolean;
}

/** Outputs of a Bridge. */
export interface BridgeOutputs extends BridgeInputs {
  /**
   * The backend of the forwarding rule, decided when the rule was first
   * made and kept; unset while no rule was ever asked for (and in state from
   * before the choice existed, where a rule is iptables').
   */
  readonly firewallBackend?: FirewallBackend;
}

/** The tag of a bridge's forwarding rule: unique per namespace, as the bridge's name is. */
export function bridgeRuleTag(name: string): string {
  return `linuxnet:bridge:${name}`;
}

/**
 * Equivalent to: `ip [-n NS] link add name NAME address MAC type bridge` (MAC: {@link stableMac}).
 */
export function planBridgeAdd(inputs: BridgeInputs): string[] {
  const mac = stableMac(inputs.connection?.host, inputs.namespace, inputs.name);
  return planLinkAdd(inputs.namespace, { name: inputs.name, mac }, "bridge");
}

/**
 * The backend of a bridge's rule as recorded: unset with a rule in place is
 * state from before the choice existed, whose rule is iptables'.
 */
function recordedBackend(props: BridgeOutputs): FirewallBackend | undefined {
  return props.firewallBackend ?? (props.acceptForwarding ? "iptables" : undefined);
}

function settings(inputs: BridgeInputs): LinkSettings {
  return { addresses: inputs.addresses, up: inputs.up, mtu: inputs.mtu };
}

/** The Bridge kind: its inputs as declared, and its lifecycle. */
export const bridgeKind = declareKind<BridgeInputs, BridgeOutputs>({
  name: "Bridge",
  fields: {
    connection: connection("replace-on-host"),
    name: {
      type: generatedName({ maxBytes: MAX_INTERFACE_NAME_BYTES, problem: interfaceNameProblem }),
      change: "replace",
    },
    // The kernel does not move a bridge between namespaces.
    namespace: { type: checked(namespaceNameProblem), change: "replace" },
    addresses: { type: addressList(), change: "update" },
    mtu: { type: checked(mtuProblem), change: "update" },
    up: { type: bool(true), change: "update" },
    acceptForwarding: { type: bool(false), change: "update" },
    // Updates in place, unlike NatRule's: replacing a bridge takes every port out of it.
    firewall: firewallField("update"),
    adopt: adoptField(),
  },
  outputs: ["firewallBackend"],
  snapshotRead: true,
  deleteBeforeReplace: { keeps: ["name"] },

  idOf: (inputs) => linkId(inputs.namespace, inputs.name),

  async create(host, inputs) {
    const { namespace, name } = inputs;
    const firewallBackend = inputs.acceptForwarding
      ? await chooseFirewall(host, inputs.firewall)
      : undefined;
    const firewall = firewallFor(firewallBackend);
    // The forwarding rule goes in the same round trip, and goes again if anything after it fails.
    const rule = inputs.acceptForwarding
      ? [
          {
            argv: firewall.planBridgeAccept(namespace, name, bridgeRuleTag(name)),
            undo: () => firewall.deleteForwardAccepts(host, namespace, bridgeRuleTag(name)),
          },
        ]
      : [];
    const link = {
      host: inputs.connection?.host,
      namespace,
      name,
      type: "bridge",
      mark: markFor(inputs, "Bridge"),
    };
    const make = () => createLink(host, { ...link, settings: settings(inputs) }, rule);
    // An nft rule adds to our table: no delete may remove the table meanwhile.
    if (firewallBackend === "nftables") await withTableLock(host.name, namespace, make);
    else await make();
    return firewallBackend ? { ...inputs, firewallBackend } : inputs;
  },

  async mark(host, inputs, mark) {
    await host.runOk(planLinkMark(inputs.namespace, inputs.name, mark));
  },

  async read(reader, _id, props) {
    const seen = await readLink(reader, props.namespace, props.name, "bridge");
    if (!seen) return undefined;
    const view = managedView(seen, settings(props));
    return {
      ...props,
      addresses: [...view.addresses],
      up: view.up,
      mtu: view.mtu,
      acceptForwarding: await hasForwardRule(reader, props),
    };
  },

  async update(host, _id, olds, news) {
    await updateLink(host, news.namespace, news.name, settings(olds), settings(news));
    const tag = bridgeRuleTag(news.name);
    const before = olds.acceptForwarding ? recordedBackend(olds) : undefined;
    let firewallBackend = olds.firewallBackend;
    if (news.acceptForwarding) {
      // `auto` keeps the backend decided before; an explicit choice moves the rule to it.
      const wanted =
        news.firewall === "iptables" || news.firewall === "nftables"
          ? news.firewall
          : (recordedBackend(olds) ?? (await chooseFirewall(host, news.firewall)));
      if (before !== wanted) {
        await firewallFor(wanted).addBridgeAccept(host, news.namespace, news.name, tag);
        if (before) await firewallFor(before).deleteForwardAccepts(host, news.namespace, tag);
      }
      firewallBackend = wanted;
    } else if (before) {
      await firewallFor(before).deleteForwardAccepts(host, news.namespace, tag);
    }
    return firewallBackend ? { ...news, firewallBackend } : news;
  },

  async delete(host, _id, props) {
    // A bridge that never had a rule asks no firewall: the host may have neither command.
    const backend = props.firewallBackend ?? recordedBackend(props);
    if (backend) {
      await firewallFor(backend).deleteForwardAccepts(
        host,
        props.namespace,
        bridgeRuleTag(props.name),
      );
    }
    await deleteLink(host, props.namespace, props.name);
  },
});

/**
 * Whether the bridge's tagged rule is there, asked of the recorded backend.
 * A bridge with none recorded never made a rule: a tagged one in iptables
 * (added out of band, or state from before the choice existed) is still
 * drift to show, where the host can list iptables at all.
 */
async function hasForwardRule(reader: HostReader, props: BridgeOutputs): Promise<boolean> {
  const backend = recordedBackend(props);
  const rules = backend
    ? await firewallFor(backend).forwardAccepts(reader, props.namespace)
    : await firewallFor("iptables")
        .forwardAccepts(reader, props.namespace)
        .catch(() => undefined);
  return (rules ?? []).some((r) => tagged(r, bridgeRuleTag(props.name)));
}

/** Arguments of a {@link Bridge}. */
export interface BridgeArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the bridge; any other change updates in place (see
   * {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The bridge's interface name (at most 15 bytes, the kernel's limit;
   * letters, digits, `_`, `.`, `-`): `"br0"`. When omitted,
   * `<resource name>-<5 random hex digits>` cut to fit, kept across updates.
   * Changing it replaces the bridge; a replacement that keeps the name
   * deletes the old bridge first, since the kernel holds a name once.
   */
  name?: pulumi.Input<string>;
  /**
   * The namespace it lives in (a router namespace): `blue.name`. The host's
   * own when omitted. Changing it replaces the bridge: the kernel does not
   * move a bridge between namespaces.
   */
  namespace?: pulumi.Input<string>;
  /**
   * Addresses on the bridge, in CIDR form, IPv4 or IPv6: a gateway for the
   * namespaces behind it, `["10.0.0.254/24"]`. None when omitted. Updates in
   * place: only the added and removed addresses change.
   */
  addresses?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * The bridge's MTU, 68 to 65535: `9000`. The kernel's choice when omitted
   * (and then never reported as drift). Updates in place; removing it leaves
   * the MTU as it is.
   */
  mtu?: pulumi.Input<number>;
  /** Administratively up (`ip link set up`); true when omitted. Updates in place: `false`. */
  up?: pulumi.Input<boolean>;
  /**
   * Accept forwarding between the bridge's own ports (`FORWARD -i br -o br -j ACCEPT`,
   * inserted first and tagged), for hosts whose FORWARD policy is DROP (Docker
   * leaves it so) with br_netfilter loaded: there, traffic between two
   * namespaces on the bridge is silently dropped without it. False when
   * omitted. Updates in place: `true`.
   *
   * With nftables (see `firewall`) the rule is `iifname BR oifname BR accept`
   * in our own table's `forward` chain. The kernel runs every table's forward
   * chain in turn, and an accept only ends the walk through its own chain: a
   * drop in another table's forward chain (firewalld's, or Docker's
   * `policy drop` through iptables-nft) still drops the packet, whatever the
   * priorities. So on a host whose FORWARD filtering is iptables (Docker),
   * use `firewall: "iptables"` (what `auto` picks where iptables works): there
   * the rule goes first into that very chain and wins. `linuxnet doctor`
   * reports a foreign forward chain that drops.
   */
  acceptForwarding?: pulumi.Input<boolean>;
  /**
   * The firewall that holds the forwarding rule: `"iptables"`, `"nftables"`
   * (our own table `inet linuxnet`, removed with our last rule) or `"auto"`:
   * iptables where the `iptables` command works, else nftables; decided once,
   * when the rule is first made, and kept in the `firewallBackend` output.
   * The stack's `linuxnet:firewall` when omitted, else `"auto"`. Updates in
   * place (the rule moves to the backend asked for; the bridge stays).
   */
  firewall?: pulumi.Input<"auto" | "iptables" | "nftables">;
  /**
   * Take over a bridge of this name that exists already and carries no mark
   * of ours (one made by hand or by netplan): its namespace must be the one given, its addresses, MTU, up and forwarding rule are converged (its ports stay), and it is
   * marked as this resource's (its alias). Deleting the resource then deletes
   * it; give the `retainOnDelete` resource option to keep it. One of another
   * kind, or marked by another resource, is refused either way. False when
   * omitted; turning it on or off later changes nothing.
   */
  adopt?: pulumi.Input<boolean>;
}

/**
 * A bridge: a virtual switch for the veth ends of many namespaces.
 * Equivalent to: `ip link add NAME type bridge && ip addr add ADDR dev NAME && ip link set NAME up`
 */
export class Bridge extends LinuxnetResource {
  /** The bridge's name, for the veth ends that join it (their `bridge`). */
  declare readonly name: pulumi.Output<string>;
  /** The namespace it lives in; undefined for the host's own. */
  declare readonly namespace: pulumi.Output<string | undefined>;
  /**
   * The addresses on the bridge as last read from the host: those asked for,
   * then any others found there (drift, which the next `up` removes).
   */
  declare readonly addresses: pulumi.Output<string[]>;
  /** The MTU as last read, when `mtu` was given; undefined otherwise. */
  declare readonly mtu: pulumi.Output<number | undefined>;
  /** Whether the bridge is administratively up, as last read from the host. */
  declare readonly up: pulumi.Output<boolean>;
  /** Whether the tagged FORWARD accept rule is in place, as last read from the host. */
  declare readonly acceptForwarding: pulumi.Output<boolean>;
  /** The firewall asked for: `"auto"`, `"iptables"` or `"nftables"`. */
  declare readonly firewall: pulumi.Output<string>;
  /** The backend of the forwarding rule as decided when it was first made; undefined while none was. */
  declare readonly firewallBackend: pulumi.Output<string | undefined>;
  /**
   * @param name - The resource's name in the stack; the prefix of a generated `name`.
   * @param args - The bridge's inputs; all optional.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: BridgeArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(bridgeKind, name, args, opts);
  }
}
