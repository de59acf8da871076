/**
 * What bridges and veth ends share: the settings of one link (addresses, up,
 * MTU, bridge port), how to read them and how to move a link from one set of
 * settings to another.
 */

import { createHash } from "node:crypto";
import type { Host } from "../transport";
import { inNamespace, ipArgv, planAddressChanges } from "../host/ip";
import { type LinkFacts, liveReader } from "../host/reader";

/** The settings of one link that a resource manages. */
export interface LinkSettings {
  readonly addresses: readonly string[];
  readonly up: boolean;
  /** Unset: whatever the kernel chose. */
  readonly mtu?: number;
  /** The bridge it is a port of; unset: none. */
  readonly bridge?: string;
}

/** A link as found on the host: its kind and its settings. */
export type ObservedLink = LinkFacts;

/** Reads a link's kind and settings in one command, or undefined when it (or its namespace) is gone. */
export function observeLink(
  host: Host,
  namespace: string | undefined,
  name: string,
): Promise<ObservedLink | undefined> {
  return liveReader(host).link(namespace, name);
}

/**
 * The commands that take a link from `have` to `want`, in an order the kernel
 * accepts: MTU and bridge port first, then addresses, then up (so an address
 * is in place before traffic can flow).
 */
export function planLinkChanges(
  namespace: string | undefined,
  name: string,
  have: LinkSettings,
  want: LinkSettings,
): string[][] {
  const steps: string[][] = [];
  if (want.mtu !== undefined && want.mtu !== have.mtu) {
    steps.push(ipArgv(namespace, "link", "set", "dev", name, "mtu", String(want.mtu)));
  }
  if ((want.bridge ?? "") !== (have.bridge ?? "")) {
    steps.push(
      want.bridge
        ? ipArgv(namespace, "link", "set", "dev", name, "master", want.bridge)
        : ipArgv(namespace, "link", "set", "dev", name, "nomaster"),
    );
  }
  steps.push(...planAddressChanges(namespace, name, have.addresses, want.addresses));
  if (want.up !== have.up) {
    steps.push(ipArgv(namespace, "link", "set", "dev", name, want.up ? "up" : "down"));
  }
  return steps;
}

/**
 * The addresses found, in the order the user wrote them, then any others.
 * The kernel lists IPv4 before IPv6 and primaries before secondaries, and
 * that order means nothing: only a different set is drift.
 */
export function inOrderOf(found: readonly string[], wanted: readonly string[]): string[] {
  return [...wanted.filter((a) => found.includes(a)), ...found.filter((a) => !wanted.includes(a))];
}

/**
 * Makes a link we create announce its IPv4 addresses (gratuitous ARP) when it
 * comes up and when its MAC changes. A link recreated after drift has a new
 * MAC; without the announcement, neighbours keep sending to the old one until
 * their ARP entries age out, which takes up to a minute.
 * Equivalent to: `[ip netns exec NS] sysctl -qw net/ipv4/conf/NAME/arp_notify=1`
 */
export function planArpNotify(namespace: string | undefined, name: string): string[] {
  // The slash form, because an interface name may contain dots (eth0.100).
  return inNamespace(namespace, ["sysctl", "-qw", `net/ipv4/conf/${name}/arp_notify=1`]);
}

/**
 * A MAC address for a link we create, derived from where it lives and its
 * name (locally administered, unicast), as systemd's "persistent" policy
 * does. A link recreated after drift gets its old MAC back, so neighbours'
 * ARP entries stay right and traffic resumes at once; and a bridge keeps one
 * MAC however its ports come and go, instead of taking the lowest port's.
 */
export function stableMac(host: unknown, namespace: string | undefined, name: string): string {
  const bytes = createHash("sha256")
    .update(`linuxnet|${String(host ?? "")}|${namespace ?? ""}|${name}`)
    .digest()
    .subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(":");
}

/** The settings of a link the moment after `ip link add`: down, no address, no port. */
export const FRESH_LINK: LinkSettings = { addresses: [], up: false };

/** Runs a plan, stopping at the first failure (which throws with the kernel's words). */
export async function runPlan(host: Host, plan: readonly string[][]): Promise<void> {
  for (const argv of plan) await host.runOk(argv);
}

/**
 * The settings as they should be recorded after a read: only what the
 * resource manages, so that settings a user did not set never show as drift.
 */
export function managedView(observed: ObservedLink, wanted: LinkSettings): LinkSettings {
  return {
    addresses: inOrderOf(observed.addresses, wanted.addresses),
    up: observed.up,
    mtu: wanted.mtu === undefined ? undefined : observed.mtu,
    bridge: observed.bridge,
  };
}
