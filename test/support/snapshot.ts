/**
 * A picture of everything on a lab host that this package could touch, to
 * prove that destroy leaves the host exactly as it was: the namespace list,
 * and in the host and every namespace the links, addresses and routes
 * (`ip -json`), the iptables rule set (`iptables-save`) and `ip_forward`.
 */

import type { LabHost } from "../../lab/labhost";

/** What one network namespace (or the host's own, under "") holds. */
export interface NamespaceSnapshot {
  links: unknown[];
  addresses: unknown[];
  routes: unknown[];
  iptables: string;
  ipForward: string;
}

/** A host's snapshot: its namespaces by name, the host's own under "". */
export type HostSnapshot = Record<string, NamespaceSnapshot>;

async function run(host: LabHost, argv: string[]): Promise<string> {
  const r = await host.exec(argv);
  if (r.exitCode !== 0)
    throw new Error(`${argv.join(" ")} on ${host.name}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

function inNs(ns: string, argv: string[]): string[] {
  return ns ? ["ip", "netns", "exec", ns, ...argv] : argv;
}

/** Fields that change without anyone changing the configuration (counters, timers). */
function stable(entries: unknown[]): unknown[] {
  return entries.map((e) => {
    const { ifindex: _i, stats64: _s, ...rest } = e as Record<string, unknown>;
    return rest;
  });
}

/**
 * Waits until no address is still in IPv6 duplicate address detection: a
 * freshly started host gains link-local addresses and routes for a moment,
 * which is the kernel settling, not anyone's change.
 */
async function settled(host: LabHost, namespaces: string[]): Promise<void> {
  for (let i = 0; i < 50; i++) {
    let tentative = false;
    for (const ns of namespaces) {
      const out = await run(host, ns ? ["ip", "-n", ns, "-json", "addr"] : ["ip", "-json", "addr"]);
      if (out.includes('"tentative":true')) tentative = true;
    }
    if (!tentative) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const BUILTIN_CHAIN = /^:(PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) ACCEPT /;

/**
 * The rule set as `iptables-save` prints it, less what carries no meaning:
 * comment lines (the time of the dump), counters, and tables that hold
 * nothing but built-in chains with an ACCEPT policy. With iptables-nft, the
 * first command on a table creates it, and it stays when its last rule goes;
 * such an empty table filters nothing, exactly like no table at all.
 */
export function ruleSet(save: string): string {
  const tables = save
    .split("\n")
    .filter((l) => l && !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[0:0]"))
    .join("\n")
    .split(/(?<=^COMMIT)\n/m);
  return tables
    .filter(
      (t) =>
        !t.split("\n").every((l) => l.startsWith("*") || l === "COMMIT" || BUILTIN_CHAIN.test(l)),
    )
    .join("\n");
}

/** Takes the snapshot, once the host's addresses have settled. */
export async function snapshotHost(host: LabHost): Promise<HostSnapshot> {
  const names = JSON.parse((await run(host, ["ip", "-json", "netns", "list"])) || "[]") as {
    name: string;
  }[];
  const snapshot: HostSnapshot = {};
  const all = ["", ...names.map((n) => n.name).sort()];
  await settled(host, all);
  for (const ns of all) {
    const ip = (...args: string[]) =>
      run(host, ns ? ["ip", "-n", ns, "-json", ...args] : ["ip", "-json", ...args]);
    snapshot[ns] = {
      links: stable(JSON.parse((await ip("link", "show")) || "[]")),
      addresses: stable(JSON.parse((await ip("addr", "show")) || "[]")),
      routes: JSON.parse((await ip("route", "show", "table", "all")) || "[]"),
      iptables: ruleSet(await run(host, inNs(ns, ["iptables-save"]))),
      ipForward: (await run(host, inNs(ns, ["cat", "/proc/sys/net/ipv4/ip_forward"]))).trim(),
    };
  }
  return snapshot;
}
