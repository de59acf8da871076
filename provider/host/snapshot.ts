/**
 * One look at a whole host, for `pulumi refresh`: the links, addresses and
 * routes of the host's own namespace and of every namespace in
 * `ip netns list`, their iptables `nat` and `filter` rules, our nftables
 * table (`inet linuxnet`) and their `ip_forward`, dumped by ONE command instead of a few per resource.
 *
 * The command is a fixed script: no user string is ever part of it. Namespace
 * names come from `ip netns list` on the host and are only ever expanded
 * inside double quotes. The output is framed by marker lines that start with
 * a random word chosen per dump, so no content (a rule comment, a link alias)
 * can pass for a marker. Each command's stdout, stderr and exit code are kept
 * apart, so a reader can tell "absent" from "failed" exactly as the per-object
 * reads in `ip.ts` and `iptables.ts` do.
 */

import { randomBytes } from "node:crypto";
import { CommandError, TransportError } from "../errors";
import { quoteArgv } from "../shell/quote";
import type { Host } from "../transport";

/**
 * What is dumped per namespace, and the command that stands for it in
 * messages (as it would run on its own, with `ip -n NS` / `ip netns exec NS`).
 * The dump itself runs these inside the namespace.
 */
export const SECTION_COMMANDS = {
  link: ["ip", "-json", "-details", "link", "show"],
  addr: ["ip", "-json", "addr", "show"],
  // `-4` matters: without a family, `route show table all` lists IPv6 routes too, and an
  // IPv6 `default` route would then pass for an IPv4 one.
  route4: ["ip", "-4", "-json", "route", "show", "table", "all"],
  route6: ["ip", "-6", "-json", "route", "show", "table", "all"],
  // Our own nftables table only (see host/nftables.ts): one small command, absent on most hosts.
  nftables: ["nft", "-j", "list", "table", "inet", "linuxnet"],
  nat: ["iptables", "-w", "-t", "nat", "-S"],
  filter: ["iptables", "-w", "-t", "filter", "-S"],
  ip_forward: ["cat", "/proc/sys/net/ipv4/ip_forward"],
} as const satisfies Record<string, readonly string[]>;

/** One part of a namespace's dump. */
export type SectionName = keyof typeof SECTION_COMMANDS;

/**
 * Parts a reader may ask for on top of {@link SECTION_COMMANDS}; a refresh
 * does not need them and does not pay for them. The doctor asks for both:
 * `nsids` to match a veth's peer across namespaces, `sysctl` for reverse-path
 * filtering, ARP replies and br_netfilter, `neigh`, `rule` and `ruleset` for
 * neighbour entries, policy routing and native nftables. `sysctl` is read by the shell itself (no
 * process): one `PATH VALUE` line per file that exists, PATH under /proc/sys
 * (an interface name has no whitespace, so the first space ends it).
 */
export const EXTRA_SECTION_COMMANDS = {
  nsids: ["ip", "-json", "netns", "list-id"],
  sysctl: [
    "cat",
    "/proc/sys/net/ipv4/conf/*/rp_filter",
    "/proc/sys/net/ipv4/conf/*/arp_ignore",
    "/proc/sys/net/ipv4/conf/*/arp_filter",
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
  ],
  // Neighbour resolution, policy routing and native nftables, for the doctor.
  neigh: ["ip", "-json", "-4", "neigh", "show"],
  rule: ["ip", "-json", "-4", "rule", "show"],
  ruleset: ["nft", "-j", "list", "ruleset"],
} as const satisfies Record<string, readonly string[]>;

/** A part of the dump that only some readers ask for. */
export type ExtraSectionName = keyof typeof EXTRA_SECTION_COMMANDS;

/**
 * The file whose text names the running boot: a new random id each time the
 * kernel starts. Objects record it, so a read on another boot knows they went
 * with the reboot (see the runtime's `read`).
 */
export const BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id";

/** A boot id as the kernel prints it (a UUID), or undefined for anything else. Pure. */
export function parseBootId(text: string): string | undefined {
  const id = text.trim();
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(id) ? id : undefined;
}

/** What one command of the dump left: its output and its exit code. */
export interface SectionOutput {
  readonly stdout: string;
  readonly stderr: string;
  readonly exitCode: number;
}

/** The dump of one namespace (or of the host's own). */
export interface NamespaceDump {
  /** The namespace's name; undefined for the host's own. */
  readonly name?: string;
  /**
   * Set when the dump could not enter the namespace: most often it vanished
   * between `ip netns list` and `ip netns exec`, and then it is simply gone.
   */
  readonly unreachable?: { readonly exitCode: number; readonly stderr: string };
  /**
   * Each command's result; a command missing here did not run (the namespace
   * was left early, or an extra section was not asked for).
   */
  readonly sections: Partial<Record<SectionName | ExtraSectionName, SectionOutput>>;
}

/** One host's state, as one command saw it. */
export interface HostSnapshot {
  /** The host, for messages. */
  readonly host: string;
  /** The host's boot id ({@link BOOT_ID_FILE}) when the dump could read it. */
  readonly bootId?: string;
  /** The host's own namespace. */
  readonly own: NamespaceDump;
  /** Every namespace `ip netns list` showed, in its order. */
  readonly namespaces: ReadonlyMap<string, NamespaceDump>;
  /** Set when `ip netns list` failed: then no namespace was dumped, and none is known to be absent. */
  readonly listing?: { readonly exitCode: number; readonly stderr: string };
}

/**
 * Runs in one namespace (the dump enters it with `ip netns exec`, so every
 * command inside runs without switching again); `$1` is the marker. Each
 * command's stderr is captured apart from its stdout (which goes straight out
 * through fd 3), then printed in a section of its own with the exit code.
 * ip_forward is read by the shell itself, one process less per namespace; its
 * `read` stops at end of file (a /proc/sys file ends after one read), so what
 * tells success is a value read, not `read`'s status.
 */
function innerScript(extra: readonly ExtraSectionName[]): string {
  return `M="$1"
exec 3>&1
forwarding() {
  v=
  IFS= read -r v </proc/sys/net/ipv4/ip_forward
  [ -n "$v" ] && printf '%s\\n' "$v"
}
${extra.includes("sysctl") ? SYSCTL_FUNCTION : ""}section() {
  label="$1"
  shift
  printf '%s begin %s\\n' "$M" "$label"
  err=$("$@" 2>&1 >&3)
  rc=$?
  printf '\\n%s stderr %s\\n' "$M" "$label"
  if [ -n "$err" ]; then printf '%s\\n' "$err"; fi
  printf '%s end %s %d\\n' "$M" "$label" "$rc"
}
${Object.entries(SECTION_COMMANDS)
  .map(([label, argv]) =>
    label === "ip_forward"
      ? "section ip_forward forwarding"
      : `section ${label} ${quoteArgv(argv)}`,
  )
  .join("\n")}
${extra
  .map((label) =>
    label === "sysctl"
      ? "section sysctl sysctls\n"
      : `section ${label} ${EXTRA_SECTION_COMMANDS[label].join(" ")}\n`,
  )
  .join("")}`;
}

/**
 * The `sysctl` section: the files read with the shell's own `read`, as
 * `forwarding` does; a glob that matches nothing stays itself and is not
 * readable, so it is skipped.
 */
const SYSCTL_FUNCTION = `sysctls() {
  for f in /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/conf/*/arp_ignore /proc/sys/net/ipv4/conf/*/arp_filter /proc/sys/net/bridge/bridge-nf-call-iptables; do
    [ -r "$f" ] || continue
    v=
    IFS= read -r v <"$f"
    [ -n "$v" ] && printf '%s %s\\n' "\${f#/proc/sys/}" "$v"
  done
  return 0
}
`;

const INNER_SCRIPT = innerScript([]);

/**
 * The whole dump; `$1` is the marker and `$2` the inner script. The host's own
 * namespace first, then each namespace of `ip netns list` (its ` (id: N)`
 * suffix cut off). A namespace that cannot be entered any more is reported as
 * `unreachable` with `ip netns exec`'s words, and the dump goes on. The
 * listing's stderr is the only stderr the dump lets through (`ip netns list`
 * warns there about a namespace it cannot name, which must not pass for one).
 *
 * Entering a namespace costs more waiting than computing (`ip netns exec`
 * sets up and tears down a mount namespace), so namespaces are dumped a few
 * at a time (twice the CPUs, 2 to 8): on a lab host with 200 namespaces that
 * halves the dump (about 5.5 s one by one, 2.5 s four at a time). Each
 * writes to its own file in a private directory from `mktemp -d`; the files
 * are printed in order at the end, and the directory is removed on any exit.
 * Where no directory can be made, namespaces are dumped one by one.
 */
const OUTER_SCRIPT = `M="$1"
inner="$2"
printf '%s snapshot 1\\n' "$M"
b=
IFS= read -r b 2>/dev/null <${BOOT_ID_FILE}
printf '%s boot %s\\n' "$M" "$b"
dump() {
  exec 3>&1
  if [ -z "$1" ]; then
    printf '%s host\\n' "$M"
    sh -c "$inner" linuxnet-snapshot "$M"
    return
  fi
  printf '%s netns %s\\n' "$M" "$1"
  err=$(ip netns exec "$1" sh -c "$inner" linuxnet-snapshot "$M" 2>&1 >&3)
  rc=$?
  if [ "$rc" -ne 0 ]; then
    printf '\\n%s unreachable %d\\n' "$M" "$rc"
    if [ -n "$err" ]; then printf '%s\\n' "$err"; fi
  fi
}
list=$(ip netns list)
rc=$?
if [ "$rc" -ne 0 ]; then
  printf '%s listing %d\\n' "$M" "$rc"
  list=
fi
dir=$(mktemp -d 2>/dev/null) || dir=
set --
if [ -n "$dir" ]; then
  trap 'rm -rf "$dir"' EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 141' PIPE
  trap 'exit 143' TERM
  cpus=$(nproc 2>/dev/null) || cpus=1
  case "$cpus" in '' | *[!0-9]*) cpus=1 ;; esac
  width=$((cpus * 2))
  [ "$width" -ge 2 ] || width=2
  [ "$width" -le 8 ] || width=8
  (dump "") >"$dir/0" </dev/null &
  set -- "$dir/0"
else
  (dump "") </dev/null
fi
i=0
while IFS= read -r line; do
  [ -n "$line" ] || continue
  i=$((i + 1))
  if [ -n "$dir" ]; then
    (dump "\${line% (id: *)}") >"$dir/$i" </dev/null &
    set -- "$@" "$dir/$i"
    [ $((i % width)) -ne 0 ] || wait
  else
    (dump "\${line% (id: *)}") </dev/null
  fi
done <<LINUXNET_NAMESPACES
$list
LINUXNET_NAMESPACES
wait
if [ -n "$dir" ]; then cat "$@" || exit; fi
printf '%s done\\n' "$M"
`;

/** A fresh marker: nothing a host prints can start a line with it by chance. */
export function newMarker(): string {
  return `linuxnet-snapshot-${randomBytes(8).toString("hex")}`;
}

/**
 * The dump as one argv: `sh -c SCRIPT linuxnet-snapshot MARKER INNER`. Both
 * scripts are constants (one per set of extra sections); the marker is ours.
 */
export function snapshotArgv(marker: string, extra: readonly ExtraSectionName[] = []): string[] {
  if (!/^[A-Za-z0-9-]+$/.test(marker)) throw new Error(`bad snapshot marker ${marker}`);
  const inner = extra.length === 0 ? INNER_SCRIPT : innerScript(extra);
  return ["sh", "-c", OUTER_SCRIPT, "linuxnet-snapshot", marker, inner];
}

/** How the dump is named in messages, instead of the two scripts. */
export const SNAPSHOT_COMMAND = ["sh", "-c", "<linuxnet host snapshot>"];

/** The snapshot output was not what the script prints (cut short, or not a snapshot at all). */
export class SnapshotParseError extends Error {
  override readonly name = "SnapshotParseError";
}

/**
 * Parses the dump's stdout. Pure. The first line names the marker; a line is
 * a marker line only when it starts with that marker and a space. Output that
 * does not end with the `done` line is refused (the dump was cut short).
 */
export function parseHostSnapshot(stdout: string, host = ""): HostSnapshot {
  const lines = stdout.split("\n");
  const first = lines.findIndex((l) => l.length > 0);
  const head = /^([A-Za-z0-9-]+) snapshot 1$/.exec(lines[first] ?? "");
  if (!head) throw new SnapshotParseError(`on ${host}: not a host snapshot (no header line)`);
  const marker = `${head[1]} `;

  const own: MutableDump = { sections: {} };
  const namespaces = new Map<string, MutableDump>();
  let listing: { exitCode: number; stderr: string } | undefined;
  let bootId: string | undefined;
  let current: MutableDump | undefined;
  let done = false;
  // The text being collected and where it goes when the next marker line comes.
  let collecting: string[] | undefined;
  let flush: ((text: string) => void) | undefined;
  let open: { label: SectionName | ExtraSectionName; stdout?: string; stderr?: string } | undefined;

  const finish = () => {
    if (collecting && flush) flush(collecting.join("\n"));
    collecting = undefined;
    flush = undefined;
  };
  const collect = (into: (text: string) => void) => {
    collecting = [];
    flush = into;
  };

  for (let i = first + 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.startsWith(marker)) {
      collecting?.push(line);
      continue;
    }
    finish();
    const [word = "", ...rest] = line.slice(marker.length).split(" ");
    const arg = rest.join(" ");
    if (done) throw new SnapshotParseError(`on ${host}: output after the end of the snapshot`);
    switch (word) {
      case "host":
        current = own;
        open = undefined;
        break;
      case "netns":
        if (!arg) throw new SnapshotParseError(`on ${host}: a namespace without a name`);
        current = { name: arg, sections: {} };
        namespaces.set(arg, current);
        open = undefined;
        break;
      case "boot":
        bootId = parseBootId(arg);
        break;
      case "listing":
        listing = { exitCode: exitCodeOf(arg, host), stderr: "" };
        break;
      case "begin": {
        const label = sectionName(arg, host);
        open = { label };
        collect((text) => (open!.stdout = text));
        break;
      }
      case "stderr":
        if (open?.label !== arg) throw new SnapshotParseError(`on ${host}: stray "${line}"`);
        collect((text) => (open!.stderr = text));
        break;
      case "end": {
        const [label = "", code = ""] = rest;
        if (!current || open?.label !== label || open.stdout === undefined) {
          throw new SnapshotParseError(`on ${host}: stray "${line}"`);
        }
        current.sections[open.label] = {
          stdout: open.stdout,
          stderr: open.stderr ?? "",
          exitCode: exitCodeOf(code, host),
        };
        open = undefined;
        break;
      }
      case "unreachable": {
        if (!current?.name) throw new SnapshotParseError(`on ${host}: stray "${line}"`);
        const dump = current;
        dump.unreachable = { exitCode: exitCodeOf(arg, host), stderr: "" };
        collect((text) => (dump.unreachable = { ...dump.unreachable!, stderr: text.trim() }));
        open = undefined;
        break;
      }
      case "done":
        done = true;
        break;
      default:
        throw new SnapshotParseError(`on ${host}: unknown marker line "${line}"`);
    }
  }
  finish();
  if (!done) throw new SnapshotParseError(`on ${host}: the snapshot was cut short`);
  return {
    host,
    ...(bootId ? { bootId } : {}),
    own,
    namespaces,
    ...(listing ? { listing } : {}),
  };
}

interface MutableDump {
  name?: string;
  unreachable?: { exitCode: number; stderr: string };
  sections: Partial<Record<SectionName | ExtraSectionName, SectionOutput>>;
}

function sectionName(label: string, host: string): SectionName | ExtraSectionName {
  if (!Object.hasOwn(SECTION_COMMANDS, label) && !Object.hasOwn(EXTRA_SECTION_COMMANDS, label)) {
    throw new SnapshotParseError(`on ${host}: unknown section "${label}"`);
  }
  return label as SectionName | ExtraSectionName;
}

function exitCodeOf(text: string, host: string): number {
  if (!/^[0-9]{1,3}$/.test(text))
    throw new SnapshotParseError(`on ${host}: bad exit code "${text}"`);
  return Number(text);
}

/**
 * Takes a snapshot of a host: one command, whatever the number of
 * namespaces; `extra` adds sections to each namespace's dump. A failure of one namespace's commands is kept in the snapshot
 * (and reported by whoever asks about that namespace); only a dump that did
 * not run at all throws.
 */
export async function readHostSnapshot(
  host: Host,
  options: { readonly extra?: readonly ExtraSectionName[] } = {},
): Promise<HostSnapshot> {
  const marker = newMarker();
  const r = await host.run(snapshotArgv(marker, options.extra));
  if (r.exitCode !== 0) {
    throw new CommandError(host.name, SNAPSHOT_COMMAND, r.exitCode, r.stdout, r.stderr);
  }
  const snapshot = parseHostSnapshot(r.stdout, host.name);
  if (!r.stdout.startsWith(`${marker} `)) {
    throw new SnapshotParseError(`on ${host.name}: the snapshot carries another marker`);
  }
  // All other commands' stderr is inside the output: what is left is the listing's.
  return snapshot.listing
    ? { ...snapshot, listing: { ...snapshot.listing, stderr: r.stderr.trim() } }
    : snapshot;
}

interface CacheEntry {
  readonly host: string;
  snapshot: Promise<HostSnapshot | undefined>;
  /** When the snapshot was taken (or failed); unset while it is being taken. */
  takenAt?: number;
}

/**
 * Snapshots shared by the reads of one refresh. The first read for a key
 * takes a snapshot; reads that come while it is being taken, or within
 * `windowMs` after it was taken, get the same one. {@link forget} drops every
 * snapshot of a host (a create, update or delete there makes them stale).
 * A snapshot that could not be taken is kept as `undefined` for the same
 * window, so the reads fall back to per-object reads instead of retrying the
 * dump one by one; but a host that could not be reached at all is kept as that
 * failure, so the reads of a refresh fail at once instead of dialling again.
 */
export class SnapshotCache {
  private readonly entries = new Map<string, CacheEntry>();

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The snapshot for `key` (a connection) of `host`, shared, or a new one from `take`. */
  get(
    key: string,
    host: string,
    take: () => Promise<HostSnapshot>,
  ): Promise<HostSnapshot | undefined> {
    const cached = this.entries.get(key);
    if (cached && (cached.takenAt === undefined || this.now() - cached.takenAt < this.windowMs)) {
      return cached.snapshot;
    }
    const entry: CacheEntry = { host, snapshot: Promise.resolve(undefined) };
    const taken = <T>(value: T): T => {
      entry.takenAt = this.now();
      // Once the window has passed, let it go: a big snapshot is not held for the whole deployment.
      setTimeout(() => {
        if (this.entries.get(key) === entry) this.entries.delete(key);
      }, this.windowMs).unref();
      return value;
    };
    entry.snapshot = take().then(taken, (e: unknown) => {
      taken(undefined);
      if (e instanceof TransportError && (e.level === "timeout" || e.level === "connect")) throw e;
      return undefined;
    });
    this.entries.set(key, entry);
    return entry.snapshot;
  }

  /** Drops every snapshot of `host`, taken or still being taken. */
  forget(host: string): void {
    for (const [key, entry] of this.entries) if (entry.host === host) this.entries.delete(key);
  }

  /** Drops everything. */
  clear(): void {
    this.entries.clear();
  }
}
