/**
 * iptables' filter table, evaluated for the packet: OUTPUT at the source,
 * FORWARD where the path is routed or bridged (both ways: the first packet
 * and the reply), INPUT at the destination.
 * Checks `iptables.output`, `iptables.forward` and `iptables.input`.
 */

import { quoteArgv } from "../../shell/quote";
import { iptablesArgv } from "../../host/iptables";
import { clip, unique } from "../evidence";
import { acceptFix } from "../fixes";
import type { Segment } from "../logic";
import { type Packet, doubtfulRules, evaluateChain } from "../netfilter";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";
import { type Link, namespaceOf, networkOf } from "../world";
import { checkNft } from "./nft";

/** The first packet's fields, before the interfaces it passes. */
export function packetBase(w: WalkState): Omit<Packet, "ctstate"> {
  return {
    src: w.srcAddr,
    dst: w.dst,
    proto: w.proto,
    dport: w.request.port,
    icmpType: 8,
  };
}

/** The source's network (`10.0.0.0/24`), or its address as a /32 when it is on no interface. */
export function srcNetwork(w: WalkState): string {
  const state = namespaceOf(w.world, w.srcNs);
  const inet = state?.links.flatMap((l) => l.inet).find((a) => a.address === w.srcAddr);
  return inet ? networkOf(inet) : `${w.srcAddr}/32`;
}

/** Evaluates one chain (OUTPUT at the source, INPUT at the destination) for the first packet. */
export function checkChain(
  w: WalkState,
  ns: string | undefined,
  chain: "OUTPUT" | "INPUT",
  fields: { iif?: string; oif?: string; src: string; dst: string },
  id: string,
): boolean {
  const table = w.facts.table(ns, "filter");
  const title = `${chain} in ${nsLabel(ns)} lets ${fields.src} → ${fields.dst} through`;
  if (typeof table === "string") {
    record(w, "warn", id, ns, title, `cannot read iptables: ${table}`);
    return true;
  }
  const v = evaluateChain(table, chain, { ...packetBase(w), ...fields, ctstate: "NEW" });
  if (v.target !== "ACCEPT") {
    const iface = chain === "INPUT" ? ["-i", fields.iif!] : ["-o", fields.oif!];
    record(
      w,
      "fail",
      id,
      ns,
      title,
      `$ ${quoteArgv(iptablesArgv(ns, "filter", "-S", chain))}\n${clip([`-P ${chain} ${table.policies.get(chain) ?? "ACCEPT"}`, ...(table.chains.get(chain) ?? []).map((l) => l.text)].join("\n"))}\n${v.target} by ${v.by}`,
      [
        acceptFix(
          ns,
          chain,
          ...iface,
          chain === "INPUT" ? "-s" : "-d",
          chain === "INPUT" ? fields.src : fields.dst,
        ),
      ],
    );
    return false;
  }
  pass(w, id, ns, title, `ACCEPT by ${v.by}`);
  return true;
}

/** With br_netfilter, bridged IPv4 passes the FORWARD chain of the bridge's namespace. */
export function checkBridged(w: WalkState, segment: Segment, inPort: Link, outPort: Link): boolean {
  const ns = segment.namespace;
  const bridge = segment.label;
  const sysctl = w.facts.sysctl(ns, "net/bridge/bridge-nf-call-iptables");
  const option = segment.bridge?.bridgeNfCallIptables === true;
  if (sysctl !== "1" && !option) {
    pass(
      w,
      "iptables.forward",
      ns,
      `bridged traffic on ${bridge} is not filtered by iptables`,
      sysctl === undefined
        ? "br_netfilter is not loaded (no /proc/sys/net/bridge)"
        : `net.bridge.bridge-nf-call-iptables = ${sysctl}`,
    );
    return true;
  }
  const why = `net.bridge.bridge-nf-call-iptables = ${sysctl ?? "(absent)"}, ${bridge} nf_call_iptables = ${option ? 1 : 0}: bridged IPv4 on ${bridge} passes the FORWARD chain of ${nsLabel(ns)}`;
  // Native nftables sees bridged IPv4 at forward too, with the bridge as both interfaces.
  return (
    checkForward(
      w,
      ns,
      { iif: bridge, oif: bridge, physIn: inPort.name, physOut: outPort.name },
      why,
      true,
    ) && checkNft(w, ns, "nft.forward", ["forward"], { iif: bridge, oif: bridge })
  );
}

/** Evaluates FORWARD both ways: the first packet (NEW) and the reply (ESTABLISHED). */
export function checkForward(
  w: WalkState,
  ns: string | undefined,
  ifs: { iif: string; oif: string; physIn?: string; physOut?: string },
  why: string,
  bridged: boolean,
): boolean {
  const table = w.facts.table(ns, "filter");
  if (typeof table === "string") {
    record(
      w,
      "warn",
      "iptables.forward",
      ns,
      `FORWARD in ${nsLabel(ns)} lets the path through`,
      `cannot read iptables: ${table}`,
    );
    return true;
  }
  const there: Packet = {
    ...packetBase(w),
    iif: ifs.iif,
    oif: ifs.oif,
    physIn: ifs.physIn,
    physOut: ifs.physOut,
    ctstate: "NEW",
  };
  const back: Packet = {
    ...packetBase(w),
    src: w.dst,
    dst: w.srcAddr,
    icmpType: 0,
    dport: undefined,
    iif: ifs.oif,
    oif: ifs.iif,
    physIn: ifs.physOut,
    physOut: ifs.physIn,
    ctstate: "ESTABLISHED",
  };
  const v1 = evaluateChain(table, "FORWARD", there);
  const v2 = evaluateChain(table, "FORWARD", back);
  const lines = table.chains.get("FORWARD") ?? [];
  const listing = [
    `-P FORWARD ${table.policies.get("FORWARD") ?? "ACCEPT"}`,
    ...lines.map((l) => l.text),
  ].join("\n");
  const title = bridged
    ? `FORWARD in ${nsLabel(ns)} lets bridged traffic through ${ifs.iif}`
    : `FORWARD in ${nsLabel(ns)} lets ${ifs.iif} → ${ifs.oif} through`;
  const blocked = [v1, v2]
    .map((v, i) => ({ v, dir: i === 0 ? "there" : "back" }))
    .filter(({ v }) => v.target !== "ACCEPT");
  if (blocked.length > 0) {
    const fix: string[][] = [];
    if (bridged) {
      fix.push(acceptFix(ns, "FORWARD", "-i", ifs.iif, "-o", ifs.oif));
    } else {
      if (v1.target !== "ACCEPT") {
        fix.push(acceptFix(ns, "FORWARD", "-i", ifs.iif, "-o", ifs.oif, "-s", srcNetwork(w)));
      }
      if (v2.target !== "ACCEPT") {
        fix.push(
          acceptFix(
            ns,
            "FORWARD",
            "-i",
            ifs.oif,
            "-o",
            ifs.iif,
            "-m",
            "conntrack",
            "--ctstate",
            "RELATED,ESTABLISHED",
          ),
        );
      }
    }
    record(
      w,
      "fail",
      "iptables.forward",
      ns,
      title,
      `$ ${quoteArgv(iptablesArgv(ns, "filter", "-S", "FORWARD"))}\n${clip(listing)}\n${why}\n` +
        blocked
          .map(
            ({ v, dir }) =>
              `${dir === "there" ? `${w.srcAddr} → ${w.dst}` : `reply ${w.dst} → ${w.srcAddr}`}: ${v.target} by ${v.by}`,
          )
          .join("\n"),
      fix,
    );
    return false;
  }
  const doubts = [...doubtfulRules(v1), ...doubtfulRules(v2)];
  if (doubts.length > 0) {
    record(
      w,
      "warn",
      "iptables.forward",
      ns,
      title,
      `${why}\nACCEPT by ${v1.by}, but these rules use matches the doctor cannot evaluate and might decide otherwise:\n${unique(
        doubts,
      )
        .map((r) => r.text)
        .join("\n")}`,
    );
    return true;
  }
  pass(
    w,
    "iptables.forward",
    ns,
    title,
    `${why}\n${w.srcAddr} → ${w.dst}: ACCEPT by ${v1.by}; reply: ACCEPT by ${v2.by}`,
  );
  return true;
}
