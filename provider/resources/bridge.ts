/**
 * Bridge: a Linux bridge (a virtual switch), on the host or inside a
 * namespace, with optional addresses (a gateway for the namespaces behind it)
 * and an optional rule that lets traffic pass between its own ports where the
 * FORWARD chain's policy is DROP.
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import { LinuxnetResource } from "./program";
import { firewallFor, tagged } from "../firewall";
import type { HostReader } from "../host/reader";
import type { BaseInputs } from "./kind";
import { addressList, bool, checked, connection, declareKind, generatedName } from "./declare";
import {
  type LinkSettings,
  createLink,
  deleteLink,
  linkId,
  managedView,
  planLinkAdd,
  readLink,
  stableMac,
  updateLink,
} from "./link";
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
}

/** Outputs of a Bridge. */
export type BridgeOutputs = BridgeInputs;

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

/** The rules' backend. */
const firewall = firewallFor();

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
  },
  snapshotRead: true,
  deleteBeforeReplace: { keeps: ["name"] },

  idOf: (inputs) => linkId(inputs.namespace, inputs.name),

  async create(host, inputs) {
    const { namespace, name } = inputs;
    // The forwarding rule goes in the same round trip, and goes again if anything after it fails.
    const rule = inputs.acceptForwarding
      ? [
          {
            argv: firewall.planBridgeAccept(namespace, name, bridgeRuleTag(name)),
            undo: () => firewall.deleteForwardAccepts(host, namespace, bridgeRuleTag(name)),
          },
        ]
      : [];
    const link = { host: inputs.connection?.host, namespace, name, type: "bridge" };
    await createLink(host, { ...link, settings: settings(inputs) }, rule);
    return inputs;
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
      acceptForwarding: await hasForwardRule(reader, props.namespace, props.name),
    };
  },

  async update(host, _id, olds, news) {
    await updateLink(host, news.namespace, news.name, settings(olds), settings(news));
    if (news.acceptForwarding && !olds.acceptForwarding) {
      await firewall.addBridgeAccept(host, news.namespace, news.name, bridgeRuleTag(news.name));
    } else if (!news.acceptForwarding && olds.acceptForwarding) {
      await firewall.deleteForwardAccepts(host, news.namespace, bridgeRuleTag(news.name));
    }
    return news;
  },

  async delete(host, _id, props) {
    await firewall.deleteForwardAccepts(host, props.namespace, bridgeRuleTag(props.name));
    await deleteLink(host, props.namespace, props.name);
  },
});

async function hasForwardRule(
  reader: HostReader,
  namespace: string | undefined,
  name: string,
): Promise<boolean> {
  const rules = await firewall.forwardAccepts(reader, namespace);
  return (rules ?? []).some((r) => tagged(r, bridgeRuleTag(name)));
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
   */
  acceptForwarding?: pulumi.Input<boolean>;
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
  /**
   * @param name - The resource's name in the stack; the prefix of a generated `name`.
   * @param args - The bridge's inputs; all optional.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: BridgeArgs = {}, opts?: pulumi.CustomResourceOptions) {
    super(bridgeKind, name, args, opts);
  }
}
