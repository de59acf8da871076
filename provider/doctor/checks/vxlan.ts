/**
 * Into a VXLAN device: where the kernel sends the frame. A VXLAN device looks
 * the frame's destination MAC up in its forwarding database: an entry for
 * that MAC (learned from a frame that came from a remote, or added by hand)
 * sends it to that entry's remote; failing that, the all-zero entries send a
 * copy to each of their remotes (head-end replication, how ARP requests and
 * unknown frames reach the other hosts), or to a multicast group. With
 * neither, the frame is dropped, silently. Checks `vxlan.fdb`.
 */

import { quoteArgv } from "../../shell/quote";
import { ipArgv, parseJsonList } from "../../host/ip";
import { type FdbEntry, fdbShowArgv } from "../../host/reader";
import { clip } from "../evidence";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import type { Link } from "../world";

/** The MAC of the default forwarding entries. */
const ALL_ZERO = "00:00:00:00:00:00";

/** Where a VXLAN device sends a frame to one MAC. */
export type VxlanForwarding =
  /** An entry of the MAC's own: to one remote. */
  | { readonly kind: "entry"; readonly mac: string; readonly remote: string }
  /** No entry of its own: a copy to each remote (or group) of the all-zero entries. */
  | { readonly kind: "flood"; readonly remotes: readonly string[] }
  /** No entry at all: dropped. */
  | { readonly kind: "none" };

/**
 * The forwarding decision of a VXLAN device for a frame to `mac` (undefined:
 * a MAC not known yet, so the frame is an ARP request, a broadcast), from its
 * `bridge -json fdb show dev X` entries. Only the device's own entries count
 * (those of its bridge carry no remote). Pure.
 */
export function vxlanForwarding(
  entries: readonly FdbEntry[],
  mac: string | undefined,
): VxlanForwarding {
  const own = entries.filter((e) => e.dst && !e.master);
  const wanted = mac?.toLowerCase();
  const match = wanted && wanted !== ALL_ZERO ? own.find((e) => e.mac === wanted) : undefined;
  if (match) return { kind: "entry", mac: match.mac, remote: match.dst! };
  const remotes = [...new Set(own.filter((e) => e.mac === ALL_ZERO).map((e) => e.dst!))];
  return remotes.length > 0 ? { kind: "flood", remotes } : { kind: "none" };
}

/**
 * The frame towards `nexthop` goes into `vxlan` (in `ns`): says which remote
 * it goes to, or fails where no forwarding entry matches. The destination
 * MAC is the source namespace's neighbour entry for the next hop, when it has
 * one. Returns false on a failure.
 */
export async function followVxlan(
  w: WalkState,
  ns: string | undefined,
  vxlan: Link,
  nexthop: string,
): Promise<boolean> {
  const neigh = await w.host.run(ipArgv(w.srcNs, "-json", "neigh", "show", "to", nexthop));
  const entry = parseJsonList<{ lladdr?: string; state?: string[] }>(neigh.stdout).find(
    (n) => n.lladdr && !(n.state ?? []).includes("FAILED"),
  );
  const argv = fdbShowArgv(ns, vxlan.name);
  const r = await w.host.run(argv);
  const where = `${vxlan.name} (${nsLabel(ns)})`;
  if (r.exitCode !== 0) {
    record(
      w,
      "warn",
      "vxlan.fdb",
      ns,
      `${where} has a forwarding entry for ${nexthop}`,
      `cannot read its forwarding database: $ ${quoteArgv(argv)}\n${r.stderr.trim()}`,
    );
    return true;
  }
  const entries = parseJsonList<FdbEntry>(r.stdout);
  const listing = `$ ${quoteArgv(["bridge", ...argv.slice(1).filter((a) => a !== "-json")])}\n${
    clip(
      entries
        .map((e) =>
          `${e.mac}${e.dst ? ` dst ${e.dst}` : ""}${e.master ? ` master ${e.master}` : ""} ${e.state ?? ""}`.trimEnd(),
        )
        .join("\n"),
    ) || "(no entries)"
  }`;
  const mac = entry?.lladdr;
  const decision = vxlanForwarding(entries, mac);
  const frame = mac ? `a frame to ${nexthop} (${mac})` : `an ARP request for ${nexthop}`;
  if (decision.kind === "entry") {
    pass(
      w,
      "vxlan.fdb",
      ns,
      `${where} sends ${frame} to the remote ${decision.remote}`,
      `${listing}\nthe entry for ${decision.mac} sends it to ${decision.remote}`,
    );
    w.path.push({
      namespace: ns,
      out: vxlan.name,
      note: `leaves the host through VXLAN to ${decision.remote}`,
    });
    return true;
  }
  if (decision.kind === "flood") {
    pass(
      w,
      "vxlan.fdb",
      ns,
      `${where} sends ${frame} to ${decision.remotes.join(", ")}`,
      `${listing}\n${mac ? `no entry for ${mac}: ` : ""}the all-zero entries send a copy to each of ${decision.remotes.join(", ")}`,
    );
    w.path.push({
      namespace: ns,
      out: vxlan.name,
      note: `leaves the host through VXLAN to ${decision.remotes.join(", ")}`,
    });
    return true;
  }
  record(
    w,
    "fail",
    "vxlan.fdb",
    ns,
    `${where} has a forwarding entry for ${frame.replace(/^an? /, "")}`,
    `${listing}\nno entry for ${mac ?? "the broadcast"} and no all-zero entry: ${vxlan.name} drops the frame (a VXLAN device with no remote sends nowhere)`,
    [
      [
        "bridge",
        ...(ns ? ["-n", ns] : []),
        "fdb",
        "append",
        ALL_ZERO,
        "dev",
        vxlan.name,
        "dst",
        "REMOTE-HOST-ADDRESS",
      ],
    ],
  );
  return false;
}
