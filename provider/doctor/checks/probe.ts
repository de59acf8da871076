/**
 * The live probe, once nothing read is broken: a ping (then a full-size one
 * with don't-fragment set), or a TCP connect. Check `probe`.
 */

import { quoteArgv } from "../../shell/quote";
import { inNamespace, ipArgv, parseJsonList } from "../../host/ip";
import type { Neighbour } from "../policy";
import { type WalkState, pass, record } from "../state";
import { nsLabel } from "../types";

/** `probe`: a real packet from the source gets through. */
export async function probe(w: WalkState): Promise<void> {
  if (w.proto === "tcp") return probeTcp(w);
  const ns = w.srcNs;
  const from = w.request.from.address;
  // One answer is enough; a lost packet is sent again each second, for at most 3 s.
  const argv = inNamespace(ns, [
    "ping",
    "-c",
    "1",
    "-w",
    "3",
    ...(from ? ["-I", from] : []),
    w.dst,
  ]);
  const r = await w.host.run(argv);
  const title = `${nsLabel(ns)} gets an answer to a ping of ${w.dst}`;
  const said = pingSummary(r.stdout, r.stderr);
  if (r.exitCode !== 0) {
    if (await failUnresolved(w)) return;
    record(
      w,
      "fail",
      "probe",
      ns,
      title,
      `$ ${quoteArgv(argv)}\n${said}\nno earlier check explains it: look at the far side (its firewall, its route back)`,
    );
    return;
  }
  const mtu = w.firstDev?.mtu ?? 1500;
  const big = inNamespace(ns, [
    "ping",
    "-c",
    "1",
    "-w",
    "3",
    "-M",
    "do",
    "-s",
    String(mtu - 28),
    ...(from ? ["-I", from] : []),
    w.dst,
  ]);
  const rb = await w.host.run(big);
  if (rb.exitCode === 0) {
    pass(
      w,
      "probe",
      ns,
      title,
      `$ ${quoteArgv(argv)}\n${said}\n$ ${quoteArgv(big)}\n${pingSummary(rb.stdout, rb.stderr)}`,
    );
  } else if (/frag needed|message too long|mtu/i.test(rb.stdout + rb.stderr)) {
    pass(
      w,
      "probe",
      ns,
      title,
      `$ ${quoteArgv(argv)}\n${said}\nfull-size packets get "fragmentation needed" back (path MTU discovery works):\n${pingSummary(rb.stdout, rb.stderr)}`,
    );
  } else {
    record(
      w,
      "warn",
      "probe",
      ns,
      title,
      `$ ${quoteArgv(argv)}\n${said}\nbut a full-size packet (${mtu} bytes, don't fragment) gets no answer and no error: an MTU black hole somewhere beyond\n$ ${quoteArgv(big)}\n${pingSummary(rb.stdout, rb.stderr)}`,
    );
  }
}

/** A TCP connect to the port: `nc -z` when the host has nc, else bash's /dev/tcp. */
async function probeTcp(w: WalkState): Promise<void> {
  const ns = w.srcNs;
  const port = String(w.request.port);
  const nc = await w.host.run(["sh", "-c", "command -v nc"]);
  // Both bounded: at most ~4 s.
  const argv =
    nc.exitCode === 0 && nc.stdout.trim()
      ? inNamespace(ns, ["timeout", "5", "nc", "-z", "-v", "-w", "3", w.dst, port])
      : inNamespace(ns, [
          "timeout",
          "4",
          "bash",
          "-c",
          'exec 3<>"/dev/tcp/$1/$2" && echo "connected to $1:$2"',
          "probe",
          w.dst,
          port,
        ]);
  const r = await w.host.run(argv);
  const said = [r.stdout.trim(), r.stderr.trim()].filter(Boolean).join("\n");
  if (r.exitCode === 124 && (await failUnresolved(w))) return;
  const title = `a TCP connection from ${nsLabel(ns)} to ${w.dst}:${port} opens`;
  if (r.exitCode === 0) {
    pass(w, "probe", ns, title, `$ ${quoteArgv(argv)}\n${said}`);
    return;
  }
  const why =
    r.exitCode === 124
      ? "no answer within the time limit: something on the way drops it silently"
      : /refused/i.test(said)
        ? `${w.dst} answered with a reset: the path works, but nothing listens on port ${port}`
        : "the connection failed";
  record(
    w,
    "fail",
    "probe",
    ns,
    title,
    `$ ${quoteArgv(argv)}\n${said || `exit ${r.exitCode}`}\n${why}; no earlier check explains it`,
  );
}

/** The lines of ping's output that say what happened. Pure. */
export function pingSummary(stdout: string, stderr: string): string {
  const lines = `${stdout}\n${stderr}`
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
  const keep = lines.filter((l) =>
    /bytes from|packets transmitted|rtt|unreachable|frag|error|too long|connect|invalid|cannot/i.test(
      l,
    ),
  );
  return (keep.length > 0 ? keep : lines).join("\n");
}

/**
 * After a probe that got no answer: the neighbour entry of each next hop on
 * the path, as the probe left it. One that is FAILED or INCOMPLETE is where
 * the packet died: its ARP request got no answer, though every check above
 * holds. Records `neigh.failed` and returns true when one is found.
 */
async function failUnresolved(w: WalkState): Promise<boolean> {
  for (let i = 0; i < w.path.length; i++) {
    const hop = w.path[i]!;
    if (!hop.out) continue;
    const nexthop =
      hop.via ??
      (i === w.path.length - 1 || w.path[i + 1]?.note === "destination" ? w.dst : undefined);
    if (!nexthop) continue;
    const argv = ipArgv(hop.namespace, "-json", "-4", "neigh", "show", nexthop, "dev", hop.out);
    const r = await w.host.run(argv);
    if (r.exitCode !== 0) continue;
    let entries: Neighbour[];
    try {
      entries = parseJsonList<Neighbour>(r.stdout);
    } catch {
      continue;
    }
    const bad = entries.find((e) =>
      (e.state ?? []).some((s) => s === "FAILED" || s === "INCOMPLETE"),
    );
    if (!bad) continue;
    record(
      w,
      "fail",
      "neigh.failed",
      hop.namespace,
      `${nsLabel(hop.namespace)} resolves ${nexthop} on ${hop.out}`,
      `$ ${quoteArgv(ipArgv(hop.namespace, "neigh", "show", nexthop, "dev", hop.out))}\n${nexthop} dev ${hop.out} ${(bad.state ?? []).join(",")}\n` +
        `the probe's ARP requests for ${nexthop} got no answer, though every check above holds: something the doctor does not read drops ARP or the frames on that segment (a bridge VLAN filter, ebtables-legacy, a MAC filter, a device beyond this host)`,
    );
    return true;
  }
  return false;
}
