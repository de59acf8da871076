/**
 * Orphans: objects on a host that carry a mark of ours (owner.ts) naming a
 * resource of a stack, where the stack's export holds no such resource any
 * more (a lost state file, `pulumi state delete`, an interrupted run whose
 * resources the engine never recorded). `linuxnet orphans` lists them and
 * with `--delete` removes them. An object without a mark of ours is never
 * listed and never touched; nor is one marked by another stack. One that
 * was adopted (its mark ends with `;adopted`: it existed before the stack
 * took it over) is listed as such and never deleted.
 */

import type { Host } from "../transport";
import { ipArgv, listNamespaces, parseJsonList } from "../host/ip";
import type { LinkState } from "../host/ip";
import { CommandError } from "../errors";
import { TYPE_PREFIX } from "./type-token";
import {
  MARK_PREFIX,
  NAMESPACE_IDENTITY,
  RECORD_DIR,
  ROUTE_PROTOCOL,
  isAdoptedMark,
  isMark,
  markOf,
  namespaceMarkOf,
  namespaceRecord,
  ownerOfUrn,
  planRecordRemove,
  resourceMarkOf,
} from "./owner";
import { deleteLink } from "./link";

/** One object on a host that carries a mark of ours. */
export type MarkedObject =
  | { readonly type: "namespace"; readonly name: string; readonly mark: string }
  | {
      readonly type: "link";
      readonly namespace?: string;
      readonly name: string;
      /** `bridge`, `veth`, `vxlan`. */
      readonly kind?: string;
      readonly mark: string;
    }
  | {
      readonly type: "route";
      readonly namespace?: string;
      readonly table: string;
      readonly destination: string;
      readonly metric: number;
      readonly family: "inet" | "inet6";
      /** Its record file. */
      readonly record: string;
      readonly mark: string;
    };

/**
 * Reads every record file under a directory: path, then its lines.
 * Equivalent to: `grep -rZ '' DIR`
 */
async function readRecords(host: Host, dir: string): Promise<Map<string, string[]>> {
  // One command for all of them: `grep -rZ ''` prints each line as FILE, a NUL, then LINE.
  // Not `FILE:LINE`: a route's record name holds ':' (10.78.0.0/16 is `main_10.78.0.0:16_0`).
  const argv = ["grep", "-rZ", "", dir];
  const r = await host.run(argv);
  const files = new Map<string, string[]>();
  if (r.exitCode > 1 && !/No such file or directory/.test(r.stderr)) {
    throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
  }
  for (const line of r.stdout.split("\n")) {
    const at = line.indexOf("\0");
    if (at <= 0) continue;
    const file = line.slice(0, at);
    files.set(file, [...(files.get(file) ?? []), line.slice(at + 1)]);
  }
  return files;
}

/** The identity of each namespace (owner.ts). Equivalent to: `stat -Lc '%n nsfs %i %Z' /run/netns/NAME...` */
async function namespaceIdentities(
  host: Host,
  namespaces: readonly string[],
): Promise<Map<string, string>> {
  const identities = new Map<string, string>();
  if (namespaces.length === 0) return identities;
  // One that went meanwhile is left out (stat still prints the others).
  const r = await host.run([
    "stat",
    "-Lc",
    `%n ${NAMESPACE_IDENTITY}`,
    ...namespaces.map((n) => `/run/netns/${n}`),
  ]);
  for (const line of r.stdout.split("\n")) {
    const m = /^\/run\/netns\/(\S+) (.*)$/.exec(line);
    if (m) identities.set(m[1]!, m[2]!);
  }
  return identities;
}

/**
 * Every object on the host that carries a mark of ours: namespaces with a
 * record whose namespace exists, links whose alias is a mark (on the host and
 * in every namespace), routes with a record and our protocol.
 */
export async function findMarked(host: Host): Promise<MarkedObject[]> {
  const found: MarkedObject[] = [];
  const namespaces = await listNamespaces(host);
  const records = await readRecords(host, RECORD_DIR);
  const identities = await namespaceIdentities(host, namespaces);
  for (const name of namespaces) {
    const lines = records.get(namespaceRecord(name));
    // Not a record of this namespace: one deleted by hand and made again under its name.
    const mark = lines && namespaceMarkOf(lines.join("\n"), 0, identities.get(name));
    if (isMark(mark)) found.push({ type: "namespace", name, mark });
  }
  const places: (string | undefined)[] = [undefined, ...namespaces];
  const links = await Promise.all(
    places.map(async (namespace) => {
      const r = await host.run(ipArgv(namespace, "-json", "-details", "link", "show"));
      // A namespace deleted meanwhile has no links.
      return r.exitCode === 0
        ? parseJsonList<LinkState>(r.stdout).map((l) => ({ namespace, l }))
        : [];
    }),
  );
  for (const { namespace, l } of links.flat()) {
    if (!isMark(l.ifalias)) continue;
    found.push({
      type: "link",
      ...(namespace !== undefined ? { namespace } : {}),
      name: l.ifname,
      kind: l.linkinfo?.info_kind,
      mark: l.ifalias,
    });
  }
  for (const [file, lines] of records) {
    if (!file.startsWith(`${RECORD_DIR}/route/`)) continue;
    const [mark, ns, table, destination, metric, family] = lines;
    if (!isMark(mark) || !table || !destination || !metric) continue;
    const namespace = ns === "-" ? undefined : ns;
    if (namespace !== undefined && !namespaces.includes(namespace)) continue;
    const fam = family === "inet6" ? "inet6" : "inet";
    const argv = ipArgv(
      namespace,
      ...(fam === "inet6" ? ["-6"] : []),
      "-json",
      "route",
      "show",
      "to",
      "exact",
      destination,
      "table",
      table,
      "proto",
      String(ROUTE_PROTOCOL),
    );
    const r = await host.run(argv);
    const routes = r.exitCode === 0 ? parseJsonList<{ metric?: number }>(r.stdout) : [];
    if (!routes.some((x) => (x.metric ?? 0) === Number(metric))) continue;
    found.push({
      type: "route",
      ...(namespace !== undefined ? { namespace } : {}),
      table,
      destination,
      metric: Number(metric),
      family: fam,
      record: file,
      mark,
    });
  }
  return found;
}

/** What a stack export says: whose marks are its, and which of them it holds. */
export interface ExportOwners {
  /** `linuxnet:<project>/<stack>/`: the marks of this stack start with it. */
  readonly prefix: string;
  /** The marks of the resources it holds. */
  readonly held: ReadonlySet<string>;
}

/**
 * The stack and the marks of the resources a `pulumi stack export` holds.
 * `stack` (`<project>/<stack>`) names the stack when the export has no URN
 * to tell it (a stack whose state was emptied). Throws for JSON that is not an export,
 * and for a `stack` other than the one the export's URNs name.
 */
export function ownersOfExport(json: unknown, stack?: string): ExportOwners {
  const deployment = (json as { deployment?: { resources?: unknown } } | null)?.deployment;
  if (!deployment || typeof deployment !== "object") {
    throw new Error('is not a "pulumi stack export" (no deployment)');
  }
  const resources = Array.isArray(deployment.resources)
    ? (deployment.resources as { urn?: unknown; type?: unknown; inputs?: { owner?: unknown } }[])
    : [];
  // The stack its URNs name: `<project>/<stack>`.
  let named: string | undefined;
  const held = new Set<string>();
  for (const r of resources) {
    if (typeof r.urn !== "string") continue;
    const m = /^urn:pulumi:(.*?)::([^:]+)::/.exec(r.urn);
    if (m && !named) named = `${m[2]}/${m[1]}`;
    if (typeof r.type !== "string" || !r.type.startsWith(TYPE_PREFIX)) continue;
    const owner = ownerOfUrn(r.urn, r.type.slice(TYPE_PREFIX.length));
    if (owner) held.add(markOf(owner));
    if (typeof r.inputs?.owner === "string") held.add(markOf(r.inputs.owner));
  }
  // A --stack other than the export's own would read every object of that stack as an orphan.
  if (stack && named && stack !== named) {
    throw new Error(
      `is an export of stack ${named}, but --stack ${stack} names another: orphans are looked for only in the export's own stack (drop --stack, or export ${stack})`,
    );
  }
  const which = named ?? stack;
  if (!which) {
    throw new Error(
      "holds no resource to tell its project and stack: give them with --stack PROJECT/STACK",
    );
  }
  return { prefix: `${MARK_PREFIX}${which}/`, held };
}

/** The marked objects of the export's stack that it does not hold (adopted ones too). Pure. */
export function orphansOf(found: readonly MarkedObject[], owners: ExportOwners): MarkedObject[] {
  return found.filter(
    (o) => o.mark.startsWith(owners.prefix) && !owners.held.has(resourceMarkOf(o.mark)),
  );
}

/** True for an object adopted by its resource (it existed before): listed, never deleted. */
export function isAdopted(o: MarkedObject): boolean {
  return isAdoptedMark(o.mark);
}

/** One line per object: what it is, where, its mark, and whether it was adopted. Pure. */
export function describeMarked(o: MarkedObject): string {
  const where = (ns: string | undefined) => (ns === undefined ? "" : `${ns}/`);
  const adopted = isAdopted(o) ? "  adopted (existed before the stack): never deleted" : "";
  switch (o.type) {
    case "namespace":
      return `namespace ${o.name}  ${o.mark}${adopted}`;
    case "link":
      return `link      ${where(o.namespace)}${o.name} (${o.kind ?? "plain"})  ${o.mark}${adopted}`;
    case "route":
      return `route     ${where(o.namespace)}${o.destination} table ${o.table} metric ${o.metric}  ${o.mark}${adopted}`;
  }
}

/**
 * Deletes orphans: routes first, then links, then namespaces (which take
 * whatever is left inside them), each with its record. Already gone is
 * success. Adopted ones are skipped: they were someone's before the stack's.
 */
export async function deleteOrphans(host: Host, orphans: readonly MarkedObject[]): Promise<void> {
  const order = { route: 0, link: 1, namespace: 2 } as const;
  const deletable = orphans.filter((o) => !isAdopted(o));
  for (const o of deletable.sort((a, b) => order[a.type] - order[b.type])) {
    if (o.type === "route") {
      // `proto 76`: the kernel deletes only a route of ours.
      const argv = ipArgv(
        o.namespace,
        ...(o.family === "inet6" ? ["-6"] : []),
        "route",
        "del",
        o.destination,
        "table",
        o.table,
        "metric",
        String(o.metric),
        "proto",
        String(ROUTE_PROTOCOL),
      );
      const r = await host.run(argv);
      if (r.exitCode !== 0 && !/No such process|Cannot open network namespace/.test(r.stderr)) {
        throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
      }
      await host.runOk(planRecordRemove(o.record));
    } else if (o.type === "link") {
      await deleteLink(host, o.namespace, o.name);
    } else {
      const argv = ["ip", "netns", "delete", o.name];
      const r = await host.run(argv);
      if (r.exitCode !== 0 && !/No such file or directory/.test(r.stderr)) {
        throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
      }
      await host.runOk(planRecordRemove(namespaceRecord(o.name)));
    }
  }
}
