/**
 * What bridges and veth ends share: the settings of one link (addresses, up,
 * MTU, bridge port), how to read them and how to move a link from one set of
 * settings to another.
 */

import type { Host } from "../transport";
import { ipArgv, isUp, planAddressChanges, readAddresses, readLink } from "../host/ip";

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
export interface ObservedLink extends LinkSettings {
  readonly kind?: string;
  readonly mtu: number;
}

/** Reads a link's kind and settings, or undefined when it (or its namespace) is gone. */
export async function observeLink(
  host: Host,
  namespace: string | undefined,
  name: string,
): Promise<ObservedLink | undefined> {
  const link = await readLink(host, namespace, name);
  if (!link) return undefined;
  const addresses = (await readAddresses(host, namespace, name)) ?? [];
  return {
    kind: link.linkinfo?.info_kind,
    addresses,
    up: isUp(link),
    mtu: link.mtu,
    bridge: link.master,
  };
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
    addresses: observed.addresses,
    up: observed.up,
    mtu: wanted.mtu === undefined ? undefined : observed.mtu,
    bridge: observed.bridge,
  };
}
