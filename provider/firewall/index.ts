/**
 * The firewall rules our kinds own, behind one interface: NatRule's
 * masquerade and Bridge's accept between its own ports. A kind asks for a
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
