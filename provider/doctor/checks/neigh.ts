/**
 * Neighbour resolution on one segment: before a frame leaves, the sender
 * must learn the next hop's MAC (ARP), and the next hop must answer. An
 * interface with ARP off (either end), an `arp_ignore` or `arp_filter`
 * setting that keeps the next hop from answering, or a static neighbour
 * entry with the wrong MAC all break the path while every route is right.
 * nftables' `arp` family can drop the request or the answer at either end.
 * Checks `neigh.arp`, `neigh.nft`, `neigh.ignore`, `neigh.filter` and `neigh.static`.
 */

import { quoteArgv } from "../../shell/quote";
import { ipArgv } from "../../host/ip";
import { evidence, routeGet } from "../evidence";
import { inNamespace } from "../../host/ip";
import { ipFix, sysctlFix } from "../fixes";
import { chainLabel, evaluateHook } from "../nftrules";
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
  if (!checkArpTables(w, ns, dev, nexthop, keeper)) return false;
  const kns = keeper.namespace;
  const all = w.facts.sysctl(kns, "net/ipv4/conf/all/arp_ignore");
  const one = w.facts.sysctl(kns, `net/ipv4/conf/${keeper.name}/arp_ignore`);
  const mode = arpIgnoreMode(all, one);
  const senderAddr =
    dev.inet.find((a) => inNetwork(nexthop, a))?.address ?? dev.inet[0]?.address ?? w.srcAddr;
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

/**
 * nftables' `arp` family: the request leaves the sender (output) and enters
 * the keeper (input); the answer goes back the other way. The first base
 * chain that drops one of them is named, with an accept rule for that
 * interface as the fix.
 */
function checkArpTables(
  w: WalkState,
  ns: string | undefined,
  dev: Link,
  nexthop: string,
  keeper: Link,
): boolean {
  const kns = keeper.namespace;
  const steps = [
    { at: ns, hook: "output", what: `the request for ${nexthop} leaving by`, link: dev },
    { at: kns, hook: "input", what: `the request for ${nexthop} coming in by`, link: keeper },
    { at: kns, hook: "output", what: `the answer leaving by`, link: keeper },
    { at: ns, hook: "input", what: `the answer coming in by`, link: dev },
  ] as const;
  for (const s of steps) {
    const rs = w.facts.nft(s.at);
    if (typeof rs === "string") continue;
    const inbound = s.hook === "input";
    const v = evaluateHook(
      rs,
      s.hook,
      {
        src: inbound === (s.link === keeper) ? (dev.inet[0]?.address ?? w.srcAddr) : nexthop,
        dst: inbound === (s.link === keeper) ? nexthop : (dev.inet[0]?.address ?? w.srcAddr),
        proto: "udp",
        ctstate: "NEW",
        ...(inbound ? { iif: s.link.name } : { oif: s.link.name }),
      },
      "arp",
    );
    if (v.verdict !== "drop" || !v.chain) continue;
    const c = v.chain;
    // A rule it could not read came first and might have let ARP through: a warning, not a finding.
    const unsure = v.unsure.length > 0;
    record(
      w,
      unsure ? "warn" : "fail",
      "neigh.nft",
      s.at,
      `nftables' arp family in ${nsLabel(s.at)} lets ARP through ${s.link.name}`,
      `$ ${inNamespace(s.at, ["nft", "list", "table", "arp", c.table]).join(" ")}\n${chainLabel(c)}: hook ${c.hook} priority ${c.prio ?? 0} policy ${c.policy ?? "accept"}${c.rules.length ? `\n  ${c.rules.map((r) => r.text).join("\n  ")}` : ""}\n${s.what} ${s.link.name}: ${v.verdict} by ${v.by}` +
        (v.notEvaluated.length > 0
          ? `\nnot evaluated (taken as not matching): ${v.notEvaluated.map((r) => r.text).join("; ")}`
          : "") +
        (unsure
          ? `\nunsure: ${v.unsure.map((r) => r.text).join("; ")} came first and might let it through`
          : ""),
      unsure
        ? undefined
        : [
            inNamespace(s.at, [
              "nft",
              "insert",
              "rule",
              "arp",
              c.table,
              c.name,
              inbound ? "iifname" : "oifname",
              JSON.stringify(s.link.name),
              "accept",
            ]),
          ],
    );
    if (unsure) continue;
    return false;
  }
  return true;
}
