/**
 * Marks of ownership: what every object we create carries so that a later
 * run (after an interrupted one, a lost state file, or on a host that
 * already had an object of that name) can tell ours from someone else's.
 *
 * A mark names the stack's resource: `linuxnet:<project>/<stack>/<Kind>/<name>`.
 * Two stacks with the same resource name on one host have different marks,
 * and so do a Namespace and a VethPair that share a resource name. The
 * program side computes the owner (see program.ts, {@link ownerOf}); the
 * orphans command computes the same from a stack export's URNs
 * ({@link ownerOfUrn}).
 *
 * Where the mark lives, by kind:
 * - links (Bridge, VethPair ends, Vxlan): the interface alias (`ip link set
 *   dev X alias MARK`, IFLA_IFALIAS), set in the create's round trip;
 * - namespaces: a record file `/run/linuxnet/netns/<name>` holding the mark
 *   and the namespace's identity ({@link NAMESPACE_IDENTITY}: its nsfs inode
 *   and that inode's change time), written in the create's round trip; a
 *   record whose identity is not the namespace's (deleted by hand and made
 *   again under its name) marks nothing;
 * - routes: protocol {@link ROUTE_PROTOCOL} (a route cannot carry a name),
 *   and a record under `/run/linuxnet/route/` holding the mark.
 *
 * An object taken over with `adopt: true` (one that existed before the
 * stack) carries its resource's mark followed by {@link ADOPTED}
 * (`linuxnet:proj/dev/Bridge/br0;adopted`): the same owner to a later
 * takeover, but `linuxnet orphans` lists it as adopted and never deletes it,
 * so that a hand-made object a stack let go of (`retainOnDelete`) is not
 * taken from the person who made it.
 *
 * Pure: nothing here runs a command.
 */

import { createHash } from "node:crypto";
import { CommandError } from "../errors";

/** The prefix of every mark. */
export const MARK_PREFIX = "linuxnet:";

/**
 * The routing protocol number our routes carry (`ip route add ... proto 76`).
 * 76 is `L` in ASCII; /etc/iproute2/rt_protos reserves 0-4, 8-18, 42, 99 and
 * 186-192, and the kernel none other, so no routing daemon claims it.
 */
export const ROUTE_PROTOCOL = 76;

/** Where our record files live: `netns/<name>`, `route/<ns>/<key>`. */
export const RECORD_DIR = "/run/linuxnet";

/** The characters a mark may hold as they are: no white space, no quotes, nothing a shell or a comment match reads. */
const SAFE = /^[A-Za-z0-9._:/@+=,#-]+$/;

/** The longest owner a mark holds as it is (an alias and an iptables comment hold 255 bytes). */
const MAX_OWNER = 200;

/** The owner a program's resource has: `<project>/<stack>/<Kind>/<resource name>`. */
export function ownerOf(project: string, stack: string, kind: string, name: string): string {
  return `${project}/${stack}/${kind}/${name}`;
}

/**
 * The owner of a resource of a stack export, from its URN
 * (`urn:pulumi:STACK::PROJECT::[parent$]TYPE::NAME`) and type token kind; undefined for
 * a URN of another shape.
 */
export function ownerOfUrn(urn: string, kind: string): string | undefined {
  const m = /^urn:pulumi:([^:]*(?::[^:]+)*?)::([^:]+)::([^]*?)::([^]*)$/.exec(urn);
  if (!m) return undefined;
  const [, stack, project, , name] = m;
  return ownerOf(project!, stack!, kind, name!);
}

/**
 * The mark an owner writes: `linuxnet:` and the owner, or, when the owner holds
 * characters a mark may not or is too long, its first three parts and a hash
 * of the whole (`linuxnet:proj/dev/Bridge/#3f2a...`).
 */
export function markOf(owner: string): string {
  if (SAFE.test(owner) && owner.length <= MAX_OWNER) return `${MARK_PREFIX}${owner}`;
  const hash = createHash("sha256").update(owner).digest("hex").slice(0, 20);
  const head = owner
    .split("/")
    .slice(0, 3)
    .map((p) => (SAFE.test(p) ? p.slice(0, 40) : "_"))
    .join("/");
  return `${MARK_PREFIX}${head}/#${hash}`;
}

/**
 * The mark of a resource as the provider sees it: from the `owner` the
 * program sent, or, from inputs made elsewhere (state written before marks
 * existed, a test driving the provider), from its kind and resource name alone.
 */
export function markFor(inputs: { owner?: unknown; resourceName?: unknown }, kind: string): string {
  const owner =
    typeof inputs.owner === "string" && inputs.owner.length > 0
      ? inputs.owner
      : ownerOf(
          "-",
          "-",
          kind,
          typeof inputs.resourceName === "string" ? inputs.resourceName : "-",
        );
  return markOf(owner);
}

/**
 * What an adopted object's mark ends with. `;` is a character no mark holds
 * otherwise (a name with one is hashed), so the suffix cannot be part of an owner.
 */
export const ADOPTED = ";adopted";

/** The mark an object taken over with `adopt: true` carries: the resource's mark and {@link ADOPTED}. */
export function adoptedMarkOf(mark: string): string {
  return `${mark}${ADOPTED}`;
}

/** True for the mark of an adopted object (one that existed before its stack took it over). */
export function isAdoptedMark(mark: string): boolean {
  return isMark(mark) && mark.endsWith(ADOPTED);
}

/** The resource's mark a found mark stands for: without {@link ADOPTED}. */
export function resourceMarkOf(mark: string): string {
  return isAdoptedMark(mark) ? mark.slice(0, -ADOPTED.length) : mark;
}

/** True for a mark of ours (of any resource). */
export function isMark(value: unknown): value is string {
  return typeof value === "string" && value.startsWith(MARK_PREFIX);
}

/** The part of a mark that names its stack: `linuxnet:<project>/<stack>/`. */
export function stackPrefixOf(project: string, stack: string): string {
  return `${MARK_PREFIX}${project}/${stack}/`;
}

/** Whose an existing object is, as its mark says. */
export type Ownership = "ours" | "unmarked" | "other";

/** Compares the mark found on an object with ours; an adopted object's mark of ours is ours. */
export function ownershipOf(found: string | undefined, mine: string): Ownership {
  if (!isMark(found)) return "unmarked";
  return resourceMarkOf(found) === mine ? "ours" : "other";
}

/**
 * The error for an object of the name that is not ours to take: marked by
 * another resource or stack, or unmarked without `adopt: true`.
 */
export function refusal(what: string, found: string | undefined, ownership: Ownership): string {
  if (ownership === "other") {
    return `${what} already exists and is marked as another resource's (${found}); it is not taken over, even with adopt: true: delete that resource (or run "linuxnet orphans --delete" if its stack is gone) or choose another name`;
  }
  return `${what} already exists and is not managed by this stack; set adopt: true on this resource to take it over (its settings are converged and it is deleted with the resource; add the retainOnDelete option to keep it), choose another name, or delete it first`;
}

/** A record file's path for a namespace. */
export function namespaceRecord(name: string): string {
  return `${RECORD_DIR}/netns/${name}`;
}

/**
 * The `stat` format of a namespace's identity: `nsfs <inode> <ctime>` of
 * `/run/netns/<name>`, the nsfs inode its bind mount pins for as long as the
 * namespace is there. A namespace made again under the name has another
 * (the kernel may reuse an inode number, not in the same second).
 */
export const NAMESPACE_IDENTITY = "nsfs %i %Z";

/** A namespace's identity. Equivalent to: `stat -Lc 'nsfs %i %Z' /run/netns/NAME` */
export function planNamespaceIdentity(name: string): string[] {
  return ["stat", "-Lc", NAMESPACE_IDENTITY, `/run/netns/${name}`];
}

/**
 * Writes a namespace's record: its mark, then its identity, read on the host
 * in the same command. Equivalent to:
 * `mkdir -p /run/linuxnet/netns && { echo MARK; stat -Lc 'nsfs %i %Z' /run/netns/NAME; } > /run/linuxnet/netns/NAME`
 */
export function planNamespaceRecordWrite(name: string, mark: string): string[] {
  const file = namespaceRecord(name);
  return [
    "sh",
    "-c",
    'd=$1 f=$2 m=$3 n=$4; i=$(stat -Lc "$5" "/run/netns/$n") && mkdir -p "$d" && printf "%s\n%s\n" "$m" "$i" > "$f"',
    "sh",
    file.slice(0, file.lastIndexOf("/")),
    file,
    mark,
    name,
    NAMESPACE_IDENTITY,
  ];
}

/**
 * The mark a namespace's record holds, when it is this namespace's: its
 * identity line is the namespace's `identity` (a record written before
 * identities were, with none, is taken at its word). Undefined otherwise.
 */
export function namespaceMarkOf(
  text: string,
  exitCode: number,
  identity: string | undefined,
): string | undefined {
  const mark = parseRecord(text, exitCode);
  const recorded = text.split("\n")[1]?.trim();
  if (!mark || !recorded) return mark;
  return recorded === identity?.trim() ? mark : undefined;
}

/** A record file's path for a route: under its namespace (`@host` for the host's), one file per table, destination and metric. */
export function routeRecord(
  namespace: string | undefined,
  table: string,
  destination: string,
  metric: number,
): string {
  return `${RECORD_DIR}/route/${namespace ?? "@host"}/${table}_${destination.replaceAll("/", ":")}_${metric}`;
}

/**
 * Writes a record file holding a mark on its first line (and what the object
 * is, for the orphans command, on the next ones), in one command that a
 * create's round trip can hold.
 * Equivalent to: `mkdir -p DIR && printf '%s\n' MARK [LINE...] > FILE`
 */
export function planRecordWrite(file: string, mark: string, ...lines: string[]): string[] {
  const dir = file.slice(0, file.lastIndexOf("/"));
  return [
    "sh",
    "-c",
    'd=$1 f=$2; shift 2; mkdir -p "$d" && printf "%s\\n" "$@" > "$f"',
    "sh",
    dir,
    file,
    mark,
    ...lines,
  ];
}

/**
 * Removes a record file and the directories it leaves empty, up to
 * /run/linuxnet itself. Equivalent to: `rm -f FILE; rmdir --ignore-fail-on-non-empty DIRS`
 */
export function planRecordRemove(file: string): string[] {
  const dirs: string[] = [];
  for (let d = file.slice(0, file.lastIndexOf("/")); d.length >= RECORD_DIR.length;) {
    dirs.push(d);
    d = d.slice(0, d.lastIndexOf("/"));
  }
  return [
    "sh",
    "-c",
    'f=$1; shift; rm -f "$f" && { rmdir --ignore-fail-on-non-empty "$@" 2>/dev/null; true; }',
    "sh",
    file,
    ...dirs,
  ];
}

/** Reads a record file: the mark it holds, or undefined. Equivalent to: `cat FILE` */
export function planRecordRead(file: string): string[] {
  return ["cat", file];
}

/** The mark a record file's text holds, or undefined. */
export function parseRecord(text: string, exitCode: number): string | undefined {
  const line = text.split("\n")[0]!.trim();
  return exitCode === 0 && isMark(line) ? line : undefined;
}

/**
 * A create's "File exists": an object of the kind asked for already has the
 * name. Thrown by a kind's create with the mark found on it (none: unmarked);
 * declare.ts decides from the mark and `adopt` whether the create takes it
 * over, and otherwise turns it into the error the user sees ({@link refusal}).
 */
export class ExistsError extends Error {
  override readonly name = "ExistsError";
  constructor(
    readonly host: string,
    readonly argv: readonly string[],
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
    /** The object, for a message: `bridge "br0"`, `namespace "ns-blue"`. */
    readonly what: string,
    /** The mark found on it; undefined when it has none. */
    readonly mark: string | undefined,
  ) {
    super(`${stderr.trim()}: ${what} already exists`);
  }

  /** The error the user sees when the object is not taken over. */
  refused(ownership: Ownership): CommandError {
    return new CommandError(
      this.host,
      this.argv,
      this.exitCode,
      this.stdout,
      `${this.stderr.trim()}: ${refusal(this.what, this.mark, ownership)}`,
    );
  }
}
