/**
 * Neighbour resolution on one segment: before a frame leaves, the sender
 * must learn the next hop's MAC (ARP), and the next hop must answer. An
 * interface with ARP off (either end), an `arp_ignore` or `arp_filter`
 * setting that keeps the next hop from answering, or a static neighbour
 * entry with the wrong MAC all break the path while every route is right.
 * Checks `neigh.arp`, `neigh.ignore`, `neigh.filter` and `neigh.static`.
 */

import { quoteArgv } from "../../shell/quote";
import { ipArgv } from "../../host/ip";
import { evidence, routeGet } from "../evidence";
import { ipFix, sysctlFix } from "../fixes";
import { arpIgnoreMode, isStatic, neighbourOf } from "../policy";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { type Link, inNetwork } from "../world";

const ethernet = (l: Link) =>
  l.kind === "veth" || l.kind === "bridge" || l.kind === "vxlan" || l.kind === undefined;

/**
 * `dev` in `ns` sends to `nexthop`, held by `keeper`: both ends resolve ARP,
 * the keeper answers, and no static entry points elsewhere.
 */
export async function checkNeighbour(
  w: WalkState,
  ns: string | undefined,
  dev: Link,
  nexthop: string,
  keeper: Link,
): Promise<boolean> {
  for (const l of [dev, keeper]) {
    if (ethernet(l) && l.flags.includes("NOARP")) {
      const sender = l === dev;
      record(
        w,
        "fail",
        "neigh.arp",
        l.namespace,
        `${l.name} in ${nsLabel(l.namespace)} resolves neighbours (ARP is on)`,
        `${await evidence(w.host, ipArgv(l.namespace, "link", "show", "dev", l.name))}\n` +
          (sender
            ? `${l.name} has NOARP: the kernel does not ask who has ${nexthop}, and sends the frames to its own MAC, which nobody else takes`
            : `${l.name} has NOARP: it does not answer ${nsLabel(ns)}'s ARP requests for ${nexthop}`),
        [ipFix(l.namespace, "link", "set", "dev", l.name, "arp", "on")],
      );
      return false;
    }
  }
  const kns = keeper.namespace;
  const all = w.facts.sysctl(kns, "net/ipv4/conf/all/arp_ignore");
  const one = w.facts.sysctl(kns, `net/ipv4/conf/${keeper.name}/arp_ignore`);
  const mode = arpIgnoreMode(all, one);
  const senderAddr = dev.inet.find((a) => inNetwork(nexthop, a))?.address ?? w.srcAddr;
  const keeperNet = keeper.inet.find((a) => a.address === nexthop);
  const ignores =
    mode === 8 || (mode === 2 && keeperNet !== undefined && !inNetwork(senderAddr, keeperNet));
  if (ignores) {
    const fix: string[][] = [];
    for (const [name, v] of [
      ["all", all],
      [keeper.name, one],
    ] as const) {
      if ((Number(v) || 0) !== 0) {
        fix.push(sysctlFix(kns, `net.ipv4.conf.${name.replace(/\./g, "/")}.arp_ignore`, "0"));
      }
    }
    record(
      w,
      "fail",
      "neigh.ignore",
      kns,
      `${keeper.name} in ${nsLabel(kns)} answers ARP for ${nexthop}`,
      `arp_ignore: all = ${all ?? "?"}, ${keeper.name} = ${one ?? "?"} (the kernel uses the larger: ${mode})\n` +
        (mode === 8
          ? `mode 8: ${keeper.name} answers no ARP request at all`
          : `mode 2: ${keeper.name} answers only senders in its own subnet, and ${senderAddr} is not in ${nexthop}/${keeperNet?.prefixlen}`) +
        `\n${await evidence(w.host, ipArgv(ns, "neigh", "show", nexthop))}`,
      fix,
    );
    return false;
  }
  const fAll = w.facts.sysctl(kns, "net/ipv4/conf/all/arp_filter");
  const fOne = w.facts.sysctl(kns, `net/ipv4/conf/${keeper.name}/arp_filter`);
  if (fAll === "1" || fOne === "1") {
    // arp_filter: the keeper answers only when its route back to the asker leaves by the interface the request came in by.
    const back = await routeGet(w.host, kns, senderAddr, { from: nexthop });
    if (back.route?.dev !== keeper.name) {
      const fix: string[][] = [];
      if (fAll === "1") fix.push(sysctlFix(kns, "net.ipv4.conf.all.arp_filter", "0"));
      if (fOne === "1")
        fix.push(
          sysctlFix(kns, `net.ipv4.conf.${keeper.name.replace(/\./g, "/")}.arp_filter`, "0"),
        );
      record(
        w,
        "fail",
        "neigh.filter",
        kns,
        `${keeper.name} in ${nsLabel(kns)} answers ARP for ${nexthop}`,
        `arp_filter: all = ${fAll ?? "?"}, ${keeper.name} = ${fOne ?? "?"}: ${keeper.name} answers only when the route back to the asker leaves by it\n$ ${quoteArgv(back.argv)}\n${back.said}\nthe route back to ${senderAddr} leaves by ${back.route?.dev ?? "nothing"}, not ${keeper.name}`,
        fix,
      );
      return false;
    }
  }
  const entry = neighbourOf(w.facts.neighbours(ns), nexthop, dev.name);
  const want = keeper.mac?.toLowerCase();
  if (entry && isStatic(entry) && want && entry.lladdr?.toLowerCase() !== want) {
    record(
      w,
      "fail",
      "neigh.static",
      ns,
      `${nsLabel(ns)}'s neighbour entry for ${nexthop} on ${dev.name} is ${keeper.name}'s MAC`,
      `${await evidence(w.host, ipArgv(ns, "neigh", "show", nexthop, "dev", dev.name))}\n` +
        `a static entry (${(entry.state ?? []).join(",")}) sends ${nexthop}'s frames to ${entry.lladdr ?? "no address"}, but ${nexthop} is ${keeper.name} in ${nsLabel(kns)} with MAC ${want}; the kernel never re-resolves a static entry`,
      [ipFix(ns, "neigh", "del", nexthop, "dev", dev.name)],
    );
    return false;
  }
  pass(
    w,
    "neigh.arp",
    ns,
    `${dev.name} in ${nsLabel(ns)} can resolve ${nexthop} (${keeper.name}, ${want ?? "?"})`,
    entry
      ? `${nexthop} dev ${dev.name}${entry.lladdr ? ` lladdr ${entry.lladdr}` : ""} ${(entry.state ?? []).join(",")}`
      : `no entry for ${nexthop} yet; both ends resolve ARP and ${keeper.name} answers (arp_ignore ${mode})`,
  );
  return true;
}
