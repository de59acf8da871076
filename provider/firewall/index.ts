/**
 * The firewall rules our kinds own, behind one interface: NatRule's
 * masquerade, PortForward's DNAT (and its hairpin masquerade) and Bridge's
 * accept between its own ports. A kind asks for a
 * rule by what it does and by its tag (`linuxnet:<id>...`), and never sees a
 * backend's command line, as the CNI plugins' `SetupIPMasqForNetworks` picks
 * its iptables or nftables file behind one call. iptables is the first
 * backend (iptables.ts); an nftables one implements the same interface.
 */

import type { Host } from "../transport";
import type { HostReader } from "../host/reader";
import { iptablesFirewall } from "./iptables";

/** What a masquerade rule of ours matches. */
export interface Masquerade {
  /** The source network: `10.0.0.0/24`. */
  readonly source: string;
  /** Only traffic leaving by this interface; any when unset. */
  readonly outInterface?: string;
}

/**
 * What a port forward maps: `protocol` traffic to the host's ports
 * `hostPorts[0]..hostPorts[1]` (one port when both are equal), optionally only
 * arriving on `inInterface`, to `toAddress` and the same number of ports from `toPort`.
 */
export interface PortMapping {
  readonly protocol: "tcp" | "udp";
  readonly hostPorts: readonly [number, number];
  readonly toAddress: string;
  readonly toPort: number;
  readonly inInterface?: string;
}

/**
 * Where a DNAT rule applies: `incoming` to traffic that arrives from a
 * network for one of the host's own addresses, `local` to traffic the host
 * itself sends to one of its own addresses (not loopback: see portforward.ts).
 */
export type DnatHook = "incoming" | "local";

/**
 * A port forward's rule of ours as the host has it: a DNAT (`incoming` or
 * `local`) or the `hairpin` masquerade, and what it matches as far as the
 * backend reads it. Ports as the user writes them: `8080`, `8000-8010`.
 */
export interface OwnedPortRule {
  readonly tag: string;
  readonly hook: DnatHook | "hairpin";
  readonly protocol?: string;
  readonly inInterface?: string;
  readonly hostPort?: string;
  /** The DNAT target: `10.0.0.2:80`, its first port only for a range. */
  readonly to?: string;
  /** The hairpin rule's source network. */
  readonly source?: string;
}

/** A rule of ours as the host has it: its tag, and what it matches as far as the backend reads it. */
export interface OwnedRule {
  readonly tag: string;
  readonly source?: string;
  readonly outInterface?: string;
}

/**
 * The rule operations of one backend. Every namespace argument is a
 * namespace name, or undefined for the host's own. A rule's tag is found
 * and removed by that tag only (and by `tag:<more>`), never a neighbour's.
 */
export interface Firewall {
  /** The backend's name, for messages: `iptables`. */
  readonly name: string;

  /** The command that appends a masquerade rule tagged `tag`. */
  planMasquerade(namespace: string | undefined, rule: Masquerade, tag: string): string[];
  /** Appends a masquerade rule; throws with the command and the kernel's words. */
  addMasquerade(
    host: Host,
    namespace: string | undefined,
    rule: Masquerade,
    tag: string,
  ): Promise<void>;
  /**
   * Our masquerade rules; undefined when the namespace is not there. Through
   * a reader, so that a refresh answers it from the host's snapshot.
   */
  masquerades(reader: HostReader, namespace: string | undefined): Promise<OwnedRule[] | undefined>;
  /** Throws, with the command and the kernel's words, unless our masquerade rules can be listed. */
  assertMasqueradesReadable(host: Host, namespace: string | undefined): Promise<void>;
  /** Deletes every masquerade rule tagged `tag`; none there, or no namespace, is success. */
  deleteMasquerades(host: Host, namespace: string | undefined, tag: string): Promise<void>;

  /**
   * Every rule of ours that translates addresses (masquerade, DNAT, hairpin),
   * whatever kind made it: who still needs forwarding is asked of all of them.
   * Undefined when the namespace is not there.
   */
  natRules(reader: HostReader, namespace: string | undefined): Promise<OwnedRule[] | undefined>;

  /** The command that adds a port forward's DNAT rule at `hook`, tagged `tag`. */
  planDnat(
    namespace: string | undefined,
    mapping: PortMapping,
    hook: DnatHook,
    tag: string,
  ): string[];
  /** Adds that rule; throws with the command and the kernel's words. */
  addDnat(
    host: Host,
    namespace: string | undefined,
    mapping: PortMapping,
    hook: DnatHook,
    tag: string,
  ): Promise<void>;
  /**
   * The command that masquerades forwarded connections from `source` (the
   * target's own network) to the target: without it, the target answers a
   * neighbour on its own bridge directly, from an address the neighbour never
   * spoke to, and the connection never completes (CNI portmap's hairpin).
   */
  planHairpin(
    namespace: string | undefined,
    mapping: PortMapping,
    source: string,
    tag: string,
  ): string[];
  /** Adds that rule; throws with the command and the kernel's words. */
  addHairpin(
    host: Host,
    namespace: string | undefined,
    mapping: PortMapping,
    source: string,
    tag: string,
  ): Promise<void>;
  /** Our port forwards' rules; undefined when the namespace is not there. */
  portRules(
    reader: HostReader,
    namespace: string | undefined,
  ): Promise<OwnedPortRule[] | undefined>;
  /** Deletes every port-forward rule tagged `tag`; none there, or no namespace, is success. */
  deletePortRules(host: Host, namespace: string | undefined, tag: string): Promise<void>;

  /**
   * The command that accepts forwarding between a bridge's own ports, first
   * in line (before a host's DROP rules), tagged `tag`: for hosts whose
   * forward policy is DROP while br_netfilter sends bridged traffic through it.
   */
  planBridgeAccept(namespace: string | undefined, bridge: string, tag: string): string[];
  /** Adds that rule; throws with the command and the kernel's words. */
  addBridgeAccept(
    host: Host,
    namespace: string | undefined,
    bridge: string,
    tag: string,
  ): Promise<void>;
  /** Our forwarding rules; undefined when the namespace is not there. */
  forwardAccepts(
    reader: HostReader,
    namespace: string | undefined,
  ): Promise<OwnedRule[] | undefined>;
  /** Deletes every forwarding rule tagged `tag`; none there, or no namespace, is success. */
  deleteForwardAccepts(host: Host, namespace: string | undefined, tag: string): Promise<void>;
}

/** The firewall of a host: iptables, the only backend yet (whichever flavour the host chose). */
export function firewallFor(_host?: unknown): Firewall {
  return iptablesFirewall;
}

/** True when a rule's tag is `tag` itself or `tag:<more>`. */
export function tagged(rule: { readonly tag: string }, tag: string): boolean {
  return rule.tag === tag || rule.tag.startsWith(`${tag}:`);
}
