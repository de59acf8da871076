/**
 * Facts about a host from `ip -json`, and the argv lists that change them.
 * Builders are pure (each doc ends with its command-line twin); readers run
 * one command through a {@link Host} and parse what the kernel said.
 */

import type { Host } from "../transport";

/** `ip` run in a namespace, or on the host when `namespace` is undefined. Equivalent to: `ip [-n NS] ARGS...` */
export function ipArgv(namespace: string | undefined, ...args: string[]): string[] {
  return namespace ? ["ip", "-n", namespace, ...args] : ["ip", ...args];
}

/** Any command run inside a namespace. Equivalent to: `ip netns exec NS ARGV...` */
export function inNamespace(namespace: string | undefined, argv: string[]): string[] {
  return namespace ? ["ip", "netns", "exec", namespace, ...argv] : argv;
}

/** A link as `ip -json -details link show` reports it (the fields we use). */
export interface LinkState {
  readonly ifindex?: number;
  readonly ifname: string;
  readonly flags: string[];
  readonly mtu: number;
  readonly operstate: string;
  readonly address?: string;
  /** The bridge this link is a port of. */
  readonly master?: string;
  /** For a veth: the peer's name (when the peer is in the same namespace, or by its netns id). */
  readonly link?: string;
  /** For a veth whose peer is in another namespace: the peer's ifindex there... */
  readonly link_index?: number;
  /** ...and the id this namespace gives the peer's (`ip netns list-id`). */
  readonly link_netnsid?: number;
  /** The interface alias (IFLA_IFALIAS): our mark of ownership on the links we make. */
  readonly ifalias?: string;
  readonly linkinfo?: {
    readonly info_kind?: string;
    readonly info_slave_kind?: string;
    /** The link type's own settings (`-details`): a vxlan's `id`, `port`, `remote`... */
    readonly info_data?: Readonly<Record<string, unknown>>;
  };
}

/** One address as `ip -json addr` reports it. */
export interface AddrState {
  readonly family: "inet" | "inet6";
  readonly local: string;
  readonly prefixlen: number;
  readonly scope: string;
}

/** True for stderr that means "that link (or its namespace) is not there". */
export function isLinkAbsent(stderr: string): boolean {
  return /does not exist|Cannot find device|Cannot open network namespace/.test(stderr);
}

/** Parses `ip -json` output; iproute2 prints nothing at all for an empty list. */
export function parseJsonList<T>(stdout: string): T[] {
  const text = stdout.trim();
  return text ? (JSON.parse(text) as T[]) : [];
}

/** True when the link is administratively up. */
export function isUp(link: LinkState): boolean {
  return link.flags.includes("UP");
}

/** Addresses as `a.b.c.d/len`, without the kernel's own IPv6 link-local ones. */
export function configuredAddresses(info: readonly AddrState[]): string[] {
  return info
    .filter((a) => !(a.family === "inet6" && a.scope === "link"))
    .map((a) => `${a.local}/${a.prefixlen}`);
}

/** The names of the namespaces on a host. Equivalent to: `ip -json netns list` */
export async function listNamespaces(host: Host): Promise<string[]> {
  const r = await host.runOk(["ip", "-json", "netns", "list"]);
  return parseJsonList<{ name: string }>(r.stdout).map((n) => n.name);
}

/** Changes to bring a link's addresses from `have` to `want`: deletions first, so a moved address never exists twice. */
export function planAddressChanges(
  namespace: string | undefined,
  dev: string,
  have: readonly string[],
  want: readonly string[],
): string[][] {
  const del = have.filter((a) => !want.includes(a));
  const add = want.filter((a) => !have.includes(a));
  return [
    ...del.map((a) => ipArgv(namespace, "addr", "del", a, "dev", dev)),
    ...add.map((a) => ipArgv(namespace, "addr", "add", a, "dev", dev)),
  ];
}
