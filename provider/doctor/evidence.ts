/**
 * The kernel's words as evidence: the commands a check runs on its own
 * (`ip route get`, and on a failure the listing that shows it), and the lines
 * that print a route or a link as `ip` would.
 */

import type { Host } from "../transport";
import { quoteArgv } from "../shell/quote";
import { ipArgv, parseJsonList } from "../host/ip";
import type { Inet, Link } from "./world";

/** A route as `ip -json route get` reports it. */
export interface RouteGet {
  readonly type?: string;
  readonly dst: string;
  readonly from?: string;
  readonly gateway?: string;
  readonly dev: string;
  readonly prefsrc?: string;
  readonly iif?: string;
}

/** What `ip route get` answered: the route (none when it failed), the command as typed, and its words. */
export interface RouteAnswer {
  readonly route?: RouteGet;
  readonly argv: string[];
  readonly said: string;
}

/** A route as `ip route get` prints it: `10.1.2.3 via 10.0.0.254 dev veth-blue src 10.0.0.1`. Pure. */
export function routeLine(r: RouteGet): string {
  return [
    r.type && r.type !== "unicast" ? r.type : undefined,
    r.dst,
    r.from ? `from ${r.from}` : undefined,
    r.gateway ? `via ${r.gateway}` : undefined,
    `dev ${r.dev}`,
    r.prefsrc ? `src ${r.prefsrc}` : undefined,
    r.iif ? `iif ${r.iif}` : undefined,
  ]
    .filter(Boolean)
    .join(" ");
}

/** A one-line account of a link's state, after `ip -br link`. Pure. */
export function linkLine(l: Link): string {
  const parts = [`${l.name}: <${l.flags.join(",")}> mtu ${l.mtu} state ${l.operstate}`];
  if (l.master) parts.push(`master ${l.master}`);
  if (l.inet.length > 0) parts.push(l.inet.map((a) => `${a.address}/${a.prefixlen}`).join(" "));
  return parts.join(" ");
}

/** The command and what it printed, as evidence. */
export async function evidence(host: Host, argv: string[]): Promise<string> {
  const r = await host.run(argv);
  const out = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join("\n");
  return `$ ${quoteArgv(argv)}\n${clip(out || `(no output, exit ${r.exitCode})`)}`;
}

/** Like {@link evidence}, with a trailing newline, or "" when the command printed nothing. */
export async function evidenceIfAny(host: Host, argv: string[]): Promise<string> {
  const r = await host.run(argv);
  const out = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join("\n");
  return out ? `$ ${quoteArgv(argv)}\n${clip(out)}\n` : "";
}

/**
 * The kernel's own routing decision. Equivalent to:
 * `ip [-n NS] -json route get DST [from SRC] [iif DEV]`
 */
export async function routeGet(
  host: Host,
  ns: string | undefined,
  dst: string,
  opts: { from?: string; iif?: string } = {},
): Promise<RouteAnswer> {
  const args = [
    "route",
    "get",
    dst,
    ...(opts.from ? ["from", opts.from] : []),
    ...(opts.iif ? ["iif", opts.iif] : []),
  ];
  // The evidence shows the command as a person would type it; the answer is read as JSON.
  const argv = ipArgv(ns, ...args);
  const r = await host.run(ipArgv(ns, "-json", ...args));
  if (r.exitCode !== 0) return { argv, said: r.stderr.trim() || `exit ${r.exitCode}` };
  const route = parseJsonList<RouteGet>(r.stdout)[0];
  return { route, argv, said: route ? routeLine(route) : r.stdout.trim() };
}

/** At most `max` lines of a long listing. Pure. */
export function clip(text: string, max = 40): string {
  const lines = text.split("\n");
  return lines.length <= max
    ? text
    : [...lines.slice(0, max), `... (${lines.length - max} more lines)`].join("\n");
}

/** The items, each once, in first-seen order. Pure. */
export function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}

/** True for the loopback device. */
export function isLoopback(l: Link): boolean {
  return l.flags.includes("LOOPBACK") || l.name === "lo";
}

/** `10.0.0.0/24` (or a bare address) as an {@link Inet}. Pure. */
export function cidrToInet(cidr: string): Inet {
  const [address, len] = cidr.split("/");
  return { address: address!, prefixlen: len === undefined ? 32 : Number(len) };
}

/** The prefix length of a route's destination (`default` is 0). Pure. */
export function prefixOf(dst: string): number {
  return dst === "default" ? 0 : Number(dst.split("/")[1] ?? 32);
}
