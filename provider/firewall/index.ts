/**
 * The firewall rules our kinds own, behind one interface: NatRule's
 * masquerade, PortForward's DNAT (and its hairpin masquerade) and Bridge's
 * accept between its own ports. A kind asks for a
 * rule by what it does and by its tag (`linuxnet:<id>...`), and never sees a
 * backend's command line, as the CNI plugins' `SetupIPMasqForNetworks` picks
 * its iptables or nftables file behind one call. iptables is the first
 * backend (iptables.ts); nftables.ts implements the same interface with a
 * table of our own. Which one a resource uses is its `firewall` input
 * (`auto` by default), decided once at create and recorded in its outputs
 * (`firewallBackend`), so that a later change on the host (nftables
 * installed, iptables removed) never flips a resource's rules silently: read,
 * update and delete use the recorded backend.
 */

import { CommandError } from "../errors";
import type { Host } from "../transport";
import type { HostReader } from "../host/reader";
import { iptablesFirewall } from "./iptables";
import { nftablesFirewall } from "./nftables";

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

/** What a resource asks for: a backend, or `auto` (decided on the host at create). */
export type FirewallChoice = "auto" | "iptables" | "nftables";

/** A backend as decided and recorded. */
export type FirewallBackend = "iptables" | "nftables";

/** The choices, for checks and messages. */
export const FIREWALL_CHOICES: readonly FirewallChoice[] = ["auto", "iptables", "nftables"];

/**
 * A recorded backend's rules. Unset is iptables: state written before the
 * choice existed holds iptables rules (whichever flavour the host chose).
 */
export function firewallFor(backend?: FirewallBackend): Firewall {
  return backend === "nftables" ? nftablesFirewall : iptablesFirewall;
}

/**
 * What `auto` finds, in one fixed script (no input in it): `iptables` when the
 * command is there and can list the nat table, else `nftables` when `nft` is
 * there, else `none`.
 *
 * iptables first, where it works, because: (1) it is what every resource
 * used before the choice existed, so `auto` changes nothing on hosts that
 * worked; (2) an accept rule only overrides a drop in the SAME chain: on
 * hosts whose filtering is iptables (Docker, most firewall scripts, whether
 * iptables-legacy or iptables-nft), our rule inserted first in their FORWARD
 * chain lets bridge traffic through, while an accept in a table of our own
 * cannot (see nftables.ts); (3) iptables-nft writes nftables rules anyway.
 * Hosts without a working iptables (minimal images, nftables-only
 * distributions) get nftables.
 */
export const DETECT_SCRIPT =
  "if command -v iptables >/dev/null 2>&1 && iptables -w -t nat -S POSTROUTING >/dev/null 2>&1; " +
  "then echo iptables; elif command -v nft >/dev/null 2>&1; then echo nftables; else echo none; fi";

/**
 * Equivalent to: `sh -c DETECT_SCRIPT`, on the host itself: which commands
 * there are is the host's (its mount namespace), not a network namespace's,
 * and the kernel is the same in every namespace. So a namespace that is not
 * there fails at the resource's first real command, which names it.
 */
export function detectArgv(): string[] {
  return ["sh", "-c", DETECT_SCRIPT];
}

/** The backend {@link DETECT_SCRIPT} printed; undefined for `none` or anything else. Pure. */
export function parseDetected(stdout: string): FirewallBackend | undefined {
  const word = stdout.trim();
  return word === "iptables" || word === "nftables" ? word : undefined;
}

/**
 * The backend for a new resource: the one asked for, or for `auto` (and
 * unset) the one {@link DETECT_SCRIPT} finds on the host. Throws, with the
 * command, when neither command is there.
 */
export async function chooseFirewall(
  host: Host,
  choice: FirewallChoice | undefined,
): Promise<FirewallBackend> {
  if (choice === "iptables" || choice === "nftables") return choice;
  const argv = detectArgv();
  const r = await host.runOk(argv);
  const found = parseDetected(r.stdout);
  if (!found) {
    throw new CommandError(
      host.name,
      argv,
      r.exitCode,
      r.stdout,
      'firewall "auto" found neither a working iptables nor nft on the host: install nftables (or iptables)',
    );
  }
  return found;
}

/** True when a rule's tag is `tag` itself or `tag:<more>`. */
export function tagged(rule: { readonly tag: string }, tag: string): boolean {
  return rule.tag === tag || rule.tag.startsWith(`${tag}:`);
}
