/**
 * Checks a deployed matrix against the kernel, out of band (inside the lab
 * host, not over the package's SSH connection): each expectation of each
 * configuration, reported as one list of what does not hold.
 */

import type { LabHost } from "../../lab/labhost";
import { addresses, inNs, ipIn, link, namespaces, oob, oobResult, rules } from "../host/support";
import type { Configuration, Expectation, ObjectName } from "./matrix";

/** A route as `ip -json route show` prints it. */
interface SeenRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
}

/** A qdisc as `tc -json qdisc show` prints it (tbf's rate a number, netem's an object). */
interface SeenQdisc {
  kind: string;
  root?: boolean;
  options?: { rate?: number | { rate?: number } };
}

/**
 * What does not hold, one line per failed expectation, labelled with its
 * configuration; empty when the host shows everything the matrix declared.
 * `names` is the stack output of the generated program (auto-made names and
 * check results).
 */
export async function unmet(
  h: LabHost,
  configs: readonly Configuration[],
  names: Record<string, unknown>,
): Promise<string[]> {
  const name = (n: ObjectName | undefined): string | undefined => {
    if (n === undefined || typeof n === "string") return n;
    const value = names[n.output];
    if (typeof value !== "string")
      throw new Error(`stack output names["${n.output}"] is ${JSON.stringify(value)}`);
    return value;
  };
  const nsList = new Set(await namespaces(h));
  const problems: string[] = [];
  for (const c of configs) {
    for (const e of c.expect) {
      const problem = await check(h, e, name, nsList, names).catch((err: Error) => err.message);
      if (problem) problems.push(`${c.label}: ${problem}`);
    }
  }
  return problems;
}

async function check(
  h: LabHost,
  e: Expectation,
  name: (n: ObjectName | undefined) => string | undefined,
  nsList: ReadonlySet<string>,
  names: Record<string, unknown>,
): Promise<string | undefined> {
  if ("namespace" in e) {
    const ns = name(e.namespace)!;
    return nsList.has(ns) ? undefined : `namespace ${ns} is missing`;
  }
  if ("loopback" in e) {
    const ns = name(e.loopback)!;
    const lo = await link(h, ns, "lo");
    const up = lo?.flags.includes("UP") ?? false;
    return up === e.up
      ? undefined
      : `lo in ${ns} is ${up ? "up" : "down"}, expected ${e.up ? "up" : "down"}`;
  }
  if ("link" in e) {
    const ns = name(e.in);
    const dev = name(e.link)!;
    const where = `${dev}${ns ? ` in ${ns}` : " on the host"}`;
    const seen = await link(h, ns, dev);
    if (!seen) return `${where} is missing`;
    const wrong: string[] = [];
    if (seen.linkinfo?.info_kind !== e.type)
      wrong.push(`type ${seen.linkinfo?.info_kind}, expected ${e.type}`);
    if (seen.flags.includes("UP") !== e.up)
      wrong.push(`flags ${seen.flags.join(",")}, expected ${e.up ? "" : "not "}UP`);
    if (e.mtu !== undefined && seen.mtu !== e.mtu) wrong.push(`mtu ${seen.mtu}, expected ${e.mtu}`);
    const master = name(e.master);
    if ((seen.master ?? undefined) !== master)
      wrong.push(`master ${seen.master}, expected ${master}`);
    const have = (await addresses(h, ns, dev)).sort();
    const want = [...e.addresses].sort();
    if (JSON.stringify(have) !== JSON.stringify(want))
      wrong.push(`addresses ${have.join(" ")}, expected ${want.join(" ")}`);
    return wrong.length ? `${where}: ${wrong.join("; ")}` : undefined;
  }
  if ("route" in e) {
    const ns = name(e.in);
    const table = e.table ?? "main";
    const out = await oob(h, ipIn(ns, `-${e.family}`, "-json", "route", "show", "table", table));
    const routes = (out.trim() ? JSON.parse(out) : []) as SeenRoute[];
    const metric = e.metric ?? (e.family === 6 ? 1024 : undefined);
    const dev = name(e.dev);
    const found = routes.find(
      (r) =>
        r.dst === e.route &&
        (metric === undefined ? !r.metric : r.metric === metric) &&
        (e.gateway === undefined || r.gateway === e.gateway) &&
        (dev === undefined || r.dev === dev),
    );
    return found
      ? undefined
      : `no route ${e.route} (gateway ${e.gateway ?? "-"}, dev ${dev ?? "-"}, metric ${metric ?? "-"}) in table ${table}${ns ? ` of ${ns}` : ""}; there: ${JSON.stringify(routes)}`;
  }
  if ("rule" in e) {
    const ns = name(e.in);
    const all = await rules(h, ns, e.table);
    const re = new RegExp(e.rule);
    return all.some((r) => re.test(r))
      ? undefined
      : `no ${e.table} rule matching /${e.rule}/${ns ? ` in ${ns}` : ""}; there: ${all.join(" | ")}`;
  }
  if ("vxlan" in e) {
    const ns = name(e.in);
    const dev = name(e.vxlan)!;
    const where = `vxlan ${dev}${ns ? ` in ${ns}` : " on the host"}`;
    const seen = (await link(h, ns, dev)) as
      | (Awaited<ReturnType<typeof link>> & {
          linkinfo?: { info_data?: { id?: number; port?: number; group?: string } };
        })
      | undefined;
    if (!seen) return `${where} is missing`;
    const data = seen.linkinfo?.info_data ?? {};
    const wrong: string[] = [];
    if (seen.linkinfo?.info_kind !== "vxlan") wrong.push(`type ${seen.linkinfo?.info_kind}`);
    if (!seen.flags.includes("UP")) wrong.push("not UP");
    if (data.id !== e.vni) wrong.push(`vni ${data.id}, expected ${e.vni}`);
    if (data.port !== e.port) wrong.push(`port ${data.port}, expected ${e.port}`);
    if (data.group !== e.group) wrong.push(`group ${data.group}, expected ${e.group}`);
    if (seen.mtu !== e.mtu) wrong.push(`mtu ${seen.mtu}, expected ${e.mtu}`);
    const master = name(e.master);
    if ((seen.master ?? undefined) !== master)
      wrong.push(`master ${seen.master}, expected ${master}`);
    const out = await oob(h, [
      ...(ns ? ["bridge", "-n", ns] : ["bridge"]),
      "-json",
      "fdb",
      "show",
      "dev",
      dev,
    ]);
    const fdb = (out.trim() ? JSON.parse(out) : []) as {
      mac: string;
      dst?: string;
      master?: string;
    }[];
    const remotes = fdb
      .filter((f) => f.mac === "00:00:00:00:00:00" && f.dst && !f.master && f.dst !== e.group)
      .map((f) => f.dst!)
      .sort();
    const want = e.remotes.map((r) => name(r)!).sort();
    if (JSON.stringify(remotes) !== JSON.stringify(want))
      wrong.push(`remotes ${remotes.join(" ")}, expected ${want.join(" ")}`);
    const have = (await addresses(h, ns, dev)).sort();
    if (JSON.stringify(have) !== JSON.stringify([...e.addresses].sort()))
      wrong.push(`addresses ${have.join(" ")}, expected ${e.addresses.join(" ")}`);
    return wrong.length ? `${where}: ${wrong.join("; ")}` : undefined;
  }
  if ("nftRule" in e) {
    const ns = name(e.in);
    const r = await oobResult(h, inNs(ns, ["nft", "list", "table", "inet", "linuxnet"]));
    const all = r.exitCode === 0 ? r.stdout.split("\n").map((l) => l.trim()) : [];
    const re = new RegExp(e.nftRule);
    return all.some((l) => re.test(l))
      ? undefined
      : `no line of our nftables table matching /${e.nftRule}/${ns ? ` in ${ns}` : ""}; there: ${r.exitCode === 0 ? all.filter(Boolean).join(" | ") : r.stderr.trim()}`;
  }
  if ("forwarding" in e) {
    const ns = e.forwarding === "" ? undefined : name(e.forwarding);
    const value = (await oob(h, inNs(ns, ["cat", "/proc/sys/net/ipv4/ip_forward"]))).trim();
    return value === e.value
      ? undefined
      : `ip_forward${ns ? ` in ${ns}` : ""} is ${value}, expected ${e.value}`;
  }
  if ("sysctl" in e) {
    const ns = name(e.in);
    const value = (await oob(h, inNs(ns, ["cat", `/proc/sys/${e.sysctl}`]))).trim();
    const words = (v: string) => v.trim().split(/\s+/).join(" ");
    return words(value) === words(e.value)
      ? undefined
      : `${e.sysctl}${ns ? ` in ${ns}` : ""} is ${JSON.stringify(value)}, expected ${JSON.stringify(e.value)}`;
  }
  if ("qdisc" in e) {
    const ns = name(e.in);
    const dev = name(e.qdisc)!;
    const out = await oob(h, [
      "tc",
      ...(ns ? ["-n", ns] : []),
      "-json",
      "qdisc",
      "show",
      "dev",
      dev,
    ]);
    const root = (JSON.parse(out.trim() || "[]") as SeenQdisc[]).find((q) => q.root);
    const given = root?.options?.rate;
    const rate = typeof given === "object" ? given.rate : given;
    return root?.kind === e.kind && (e.rate === undefined || rate === e.rate)
      ? undefined
      : `root qdisc of ${dev}${ns ? ` in ${ns}` : ""} is ${JSON.stringify(root)}, expected ${e.kind}${e.rate ? ` at ${e.rate} bytes/s` : ""}`;
  }
  const healthy = names[e.healthy];
  return healthy === true ? undefined : `check ${e.healthy}: healthy is ${JSON.stringify(healthy)}`;
}
