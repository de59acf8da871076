/**
 * What every link kind shares, as netlink's `LinkAttrs` is shared by every
 * link type: its name, namespace, MAC and MTU when it is added, the settings
 * a resource manages (addresses, up, MTU, bridge port), and a factory that
 * creates, reads, updates and deletes a link of any type (`ip link add ...
 * type X`), its type's own settings read from `ip -details -json`
 * (`linkinfo.info_data`, as {@link LinkFacts.data}). Bridge and VethPair are
 * made with it; a kind for another link type adds only its `type` words.
 */

import { createHash } from "node:crypto";
import { CommandError } from "../errors";
import type { Host } from "../transport";
import { inNamespace, ipArgv, planAddressChanges } from "../host/ip";
import {
  type HostReader,
  type LinkFacts,
  linkDetailsArgv,
  liveReader,
  parseLinkDetails,
} from "../host/reader";
import { throwIfStepFailed, transactional } from "./kind";
import { ExistsError } from "./owner";

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

// -- The factory: any link type ----------------------------------------------------------

/** The attributes a link is added with, whatever its type. */
export interface LinkAttrs {
  readonly name: string;
  /** The device it sits on (`link DEV`): a macvlan's or a vlan's parent. */
  readonly parent?: string;
  /** Its MAC: {@link stableMac}. */
  readonly mac: string;
  /** The namespace it is added straight into (`netns`), for a link added from elsewhere. */
  readonly netns?: string;
  readonly mtu?: number;
}

/**
 * The words that add a link's attributes. `name` comes first, and as a
 * keyword: without it, a link called `up` or `br` reads as an option.
 * Equivalent to: `name NAME [link DEV] address MAC [netns NS] [mtu MTU]`
 */
export function linkAttrWords(attrs: LinkAttrs): string[] {
  return [
    "name",
    attrs.name,
    ...(attrs.parent ? ["link", attrs.parent] : []),
    "address",
    attrs.mac,
    ...(attrs.netns ? ["netns", attrs.netns] : []),
    ...(attrs.mtu !== undefined ? ["mtu", String(attrs.mtu)] : []),
  ];
}

/**
 * Adds a link of any type; `typeWords` are the type's own (a veth's `peer
 * ...`, a vxlan's `id 42 dstport 4789`).
 * Equivalent to: `ip [-n NS] link add name NAME address MAC ... type TYPE [TYPE WORDS...]`
 */
export function planLinkAdd(
  namespace: string | undefined,
  attrs: LinkAttrs,
  type: string,
  typeWords: readonly string[] = [],
): string[] {
  return ipArgv(namespace, "link", "add", ...linkAttrWords(attrs), "type", type, ...typeWords);
}

/**
 * Marks a link as ours (owner.ts): its alias. Equivalent to: `ip [-n NS] link set dev NAME alias MARK`
 */
export function planLinkMark(namespace: string | undefined, name: string, mark: string): string[] {
  return ipArgv(namespace, "link", "set", "dev", name, "alias", mark);
}

/** Equivalent to: `ip [-n NS] link del dev NAME` */
export function planLinkDelete(namespace: string | undefined, name: string): string[] {
  return ipArgv(namespace, "link", "del", "dev", name);
}

/** The id of a link resource: where it lives and its name. */
export function linkId(namespace: string | undefined, name: string): string {
  return `${namespace ?? ""}/${name}`;
}

/** One link of one type, as a kind asks the factory for it. */
export interface LinkSpec {
  /** The connection's host: part of the link's {@link stableMac}. */
  readonly host: unknown;
  readonly namespace?: string;
  readonly name: string;
  /** The type, as `ip link add ... type` takes it and `linkinfo.info_kind` reports it: `bridge`. */
  readonly type: string;
  /** The device it sits on, for the types that have one (`link DEV`). */
  readonly parent?: string;
  /** The type's own words after `type TYPE`. */
  readonly typeWords?: readonly string[];
  /** The settings it gets right after it is added. */
  readonly settings: LinkSettings;
  /** Its mark of ownership (owner.ts), set as its alias in the same round trip as the add. */
  readonly mark: string;
}

/** A step a kind adds to a link's create (a firewall rule), with what undoes it once it ran. */
export interface ExtraStep {
  readonly argv: string[];
  readonly undo: () => Promise<unknown>;
}

/**
 * Throws unless a link read back is of `type`: `what` names it in the message
 * (`"br0" was created but`, `end a "va"`).
 */
export function assertReadBack(
  host: Host,
  seen: LinkFacts | undefined,
  type: string,
  what: string,
): void {
  if (seen?.kind !== type) {
    throw new Error(
      `on ${host.name}: ${what} reads back as ${seen ? `a ${seen.kind ?? "plain"} link` : "absent"}`,
    );
  }
}

/**
 * Creates a link in one round trip: add it, mark it ({@link planLinkMark}),
 * make it announce itself ({@link planArpNotify}), apply its settings, run
 * the kind's extra steps, and read it back. Transactional: a failure
 * part-way deletes the link (and undoes the extra steps that ran) before it
 * throws. A name already taken by a link of the same type throws an
 * {@link ExistsError} with the mark found on it (declare.ts decides whether
 * it is taken over); by a link of another type, an error that says so.
 */
export async function createLink(
  host: Host,
  link: LinkSpec,
  extra: readonly ExtraStep[] = [],
): Promise<LinkFacts> {
  const { namespace, name, type } = link;
  return transactional(async (undo) => {
    const mac = stableMac(link.host, namespace, name);
    const settings = planLinkChanges(namespace, name, FRESH_LINK, link.settings);
    // Where the extra steps start: after the add, the mark, the announcement and the settings.
    const first = 3 + settings.length;
    const steps = [
      planLinkAdd(namespace, { name, mac, parent: link.parent }, type, link.typeWords),
      planLinkMark(namespace, name, link.mark),
      planArpNotify(namespace, name),
      ...settings,
      ...extra.map((step) => step.argv),
      linkDetailsArgv(namespace, name),
    ];
    const results = await host.runSteps(steps);
    if (results[0]?.exitCode === 0) undo(() => host.run(planLinkDelete(namespace, name)));
    extra.forEach((step, i) => {
      // The step ran: it must be undone if anything after it fails.
      if (results[first + i]?.exitCode === 0) undo(step.undo);
    });
    await throwIfStepFailed(host, steps, results, async (index, stderr) => {
      if (index !== 0 || !/File exists/.test(stderr)) return undefined;
      const existing = await observeLink(host, namespace, name);
      if (existing?.kind === type) {
        const r = results[0]!;
        throw new ExistsError(
          host.name,
          steps[0]!,
          r.exitCode,
          r.stdout,
          r.stderr,
          `${type} "${name}"`,
          existing.alias,
        );
      }
      return `${stderr.trim()}: "${name}" already exists but is not a ${type} (it is a ${existing?.kind ?? "plain"} link)`;
    });
    const seen = parseLinkDetails(results[results.length - 1]!.stdout);
    assertReadBack(host, seen, type, `"${name}" was created but`);
    return seen!;
  });
}

/** A link of `type` as the host has it; undefined when it is gone, or is now of another type. */
export async function readLink(
  reader: HostReader,
  namespace: string | undefined,
  name: string,
  type: string,
): Promise<LinkFacts | undefined> {
  const seen = await reader.link(namespace, name);
  return seen?.kind === type ? seen : undefined;
}

/** Takes a link from the settings it had to the ones it should have. */
export async function updateLink(
  host: Host,
  namespace: string | undefined,
  name: string,
  have: LinkSettings,
  want: LinkSettings,
): Promise<void> {
  await runPlan(host, planLinkChanges(namespace, name, have, want));
}

/**
 * Deletes a link; a link or namespace already gone is success (deleting a
 * namespace takes its links with it). Equivalent to: `ip [-n NS] link del dev NAME`
 */
export async function deleteLink(
  host: Host,
  namespace: string | undefined,
  name: string,
): Promise<void> {
  const argv = planLinkDelete(namespace, name);
  const r = await host.run(argv);
  if (
    r.exitCode !== 0 &&
    !/Cannot find device|does not exist|Cannot open network namespace/.test(r.stderr)
  ) {
    throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
  }
}
