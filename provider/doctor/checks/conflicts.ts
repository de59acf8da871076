/**
 * What the whole path shares once it is walked: the MTU along each link it
 * crossed at L2, and addresses held twice on its segments.
 * Checks `mtu` and `address.conflict`.
 */

import { ipArgv, parseJsonList } from "../../host/ip";
import { unique } from "../evidence";
import { ipFix } from "../fixes";
import { chooseKeeper, duplicateAddresses, mtuMismatches } from "../logic";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { linkByMac } from "../world";
import { routerOf } from "./routes";

/** `mtu`: every link crossed at L2 has the same MTU. */
export function checkMtu(w: WalkState): void {
  const problems = mtuMismatches(w.crossings);
  if (problems.length === 0) {
    const all = w.crossings.flatMap((c) => c.links.map((l) => `${l.name} ${l.mtu}`));
    pass(
      w,
      "mtu",
      null,
      "the MTU agrees along each link of the path",
      all.join(", ") || "no links crossed",
    );
    return;
  }
  const lines = problems.map(
    (p) =>
      `${p.segment}: ${p.links.map((l) => `${l.name} (${nsLabel(l.namespace)}) mtu ${l.mtu}`).join(", ")}: frames up to ${p.target} bytes are dropped where the MTU is smaller`,
  );
  record(
    w,
    "fail",
    "mtu",
    problems[0]!.fix[0]?.namespace,
    "the MTU agrees along each link of the path",
    lines.join("\n"),
    problems.flatMap((p) =>
      p.fix.map((l) => ipFix(l.namespace, "link", "set", "dev", l.name, "mtu", String(p.target))),
    ),
  );
}

/** `address.conflict`: no address on the path is held twice on one segment. */
export async function checkConflicts(w: WalkState): Promise<void> {
  const dups = duplicateAddresses(w.segments);
  if (dups.length === 0) {
    pass(
      w,
      "address.conflict",
      null,
      "no address is held twice on the path's segments",
      `${w.segments.map((s) => s.label).join(", ")}: every address is unique`,
    );
    return;
  }
  const onPath = dups.filter((d) => w.pathAddresses.has(d.address));
  const d = onPath[0] ?? dups[0]!;
  const keeper = chooseKeeper(
    d.holders.map((link) => ({ link })),
    {
      dst: w.dst,
      dstNs: w.dstNs,
      src: w.srcAddr,
      srcNs: w.srcNs,
      gatewayNs: w.path.find((h) => h.via === d.address) ? routerOf(w, d.holders) : undefined,
    },
  ).link;
  const intruders = d.holders.filter((l) => l !== keeper);
  const neigh = await w.host.run(ipArgv(w.srcNs, "-json", "neigh", "show", "to", d.address));
  const entry = parseJsonList<{ lladdr?: string; dev?: string; state?: string[] }>(neigh.stdout)[0];
  const owner = entry?.lladdr ? linkByMac(w.world, entry.lladdr) : undefined;
  const seen = entry?.lladdr
    ? `\n${nsLabel(w.srcNs)} resolves ${d.address} to ${entry.lladdr}${owner ? ` (${owner.name} in ${nsLabel(owner.namespace)})` : ""}${owner === keeper ? "" : ", not the intended " + keeper.name}`
    : "";
  const evidence = `${d.address} is on ${d.holders.map((l) => `${l.name} in ${nsLabel(l.namespace)} (${l.mac ?? "?"})`).join(" and ")}, all on ${d.segment}${seen}`;
  const flushIn = unique(
    w.segments.flatMap((s) => s.members.map((m) => m.link.namespace ?? "\0host")),
  )
    .map((n) => (n === "\0host" ? undefined : n))
    // Neighbours elsewhere on the segment may have cached the intruder's MAC; its holders have no entry.
    .filter((n) => !d.holders.some((l) => l.namespace === n));
  const fix = [
    ...intruders.flatMap((l) =>
      l.inet
        .filter((a) => a.address === d.address)
        .map((a) =>
          ipFix(l.namespace, "addr", "del", `${a.address}/${a.prefixlen}`, "dev", l.name),
        ),
    ),
    ...flushIn.map((n) => ipFix(n, "neigh", "flush", "to", d.address)),
  ];
  record(
    w,
    onPath.length > 0 ? "fail" : "warn",
    "address.conflict",
    keeper.namespace,
    `${d.address} is held by one interface on ${d.segment}`,
    evidence,
    fix,
  );
}
