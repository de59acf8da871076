/**
 * The questions a resource's `read` asks about a host, and two ways to answer
 * them: {@link liveReader} runs one small command per question (what creates
 * use to read back what they made), {@link snapshotReader} answers every
 * question from one {@link HostSnapshot} (what a refresh uses, so that reading
 * N resources costs one command, not a few per resource).
 *
 * Both give the same answers: an absent namespace or link is `undefined`, and
 * a command that failed for any other reason throws the same
 * {@link CommandError}, with the command it stands for and the kernel's words.
 */

import ipaddr from "ipaddr.js";
import { CommandError } from "../errors";
import type { Host } from "../transport";
import {
  type AddrState,
  type LinkState,
  configuredAddresses,
  inNamespace,
  ipArgv,
  isLinkAbsent,
  isUp,
  listNamespaces,
  parseJsonList,
} from "./ip";
import { type TaggedRule, iptablesArgv, parseTaggedRules, readTaggedRules } from "./iptables";
import { readSysctl, readSysctlClaim } from "./sysctl";
import {
  type NftTableState,
  NFT_MISSING_HINT,
  NO_TABLE,
  isNftMissing,
  isNftTableAbsent,
  nftListTableArgv,
  parseNftTable,
} from "./nftables";
import {
  BOOT_ID_FILE,
  type HostSnapshot,
  parseBootId,
  type NamespaceDump,
  type SectionName,
  SECTION_COMMANDS,
} from "./snapshot";

/** A link as a resource sees it: its kind and the settings a resource manages. */
export interface LinkFacts {
  /** `bridge`, `veth`, ...; undefined for a plain link (`lo`). */
  readonly kind?: string;
  /** Configured addresses as `a.b.c.d/len`, without the kernel's IPv6 link-local ones. */
  readonly addresses: string[];
  /** Administratively up. */
  readonly up: boolean;
  readonly mtu: number;
  /** The bridge it is a port of. */
  readonly bridge?: string;
  /**
   * The link type's own settings, as `ip -details -json` reports them
   * (`linkinfo.info_data`: a vxlan's `id`, `port`, `remote`...); unset for a plain link.
   */
  readonly data?: Readonly<Record<string, unknown>>;
  /** Its alias, when it has one: on a link we made, our mark of ownership (resources/owner.ts). */
  readonly alias?: string;
}

/**
 * One forwarding-database entry of a link, as `bridge -json fdb show dev X`
 * reports it (the fields we use): a MAC and, on a VXLAN device, the remote
 * (`dst`) a frame to that MAC is sent to. The all-zero MAC is the default
 * entry: frames to any MAC without an entry of their own (broadcast, unknown
 * unicast) go to every all-zero entry's `dst` (head-end replication).
 */
export interface FdbEntry {
  readonly mac: string;
  readonly dst?: string;
  /** `self`: the device's own table (a VXLAN's); entries with `master` are its bridge's. */
  readonly flags?: readonly string[];
  /** The bridge the entry belongs to, for a bridge's entry. */
  readonly master?: string;
  /** `permanent` for entries added by hand; learned ones have none (or `stale`). */
  readonly state?: string;
}

/** A route as `ip -json route show to exact DEST table T` reports it (the fields resources use). */
export interface RouteEntry {
  readonly dst: string;
  readonly gateway?: string;
  readonly dev?: string;
  readonly metric?: number;
  /** The routing protocol, as ip prints a number /etc/iproute2/rt_protos does not name: `"76"`. */
  readonly protocol?: string;
}

/**
 * What a kind's `read` may ask about a host, and nothing more: a reader
 * cannot run a command, so a read cannot change the host, and every read of
 * a kind that owns objects can be answered from one snapshot of the host.
 * Every namespace argument is a namespace name, or undefined for the host's
 * own namespace.
 */
export interface HostReader {
  /** The host's name, for messages. */
  readonly name: string;
  /** A link's kind and settings; undefined when it, or its namespace, is not there. */
  link(namespace: string | undefined, name: string): Promise<LinkFacts | undefined>;
  /** The names of the host's namespaces, as `ip netns list` shows them. */
  namespaces(): Promise<string[]>;
  /** Whether `lo` is up in a namespace; undefined when the namespace is not there. */
  loopbackUp(namespace: string | undefined): Promise<boolean | undefined>;
  /**
   * The routes to exactly `destination` (`default` or a CIDR) in `table`, as
   * `ip [-6] -json route show to exact DEST table T` lists them; undefined
   * when the namespace is not there.
   */
  routes(
    namespace: string | undefined,
    destination: string,
    table: string,
    ipv6: boolean,
  ): Promise<RouteEntry[] | undefined>;
  /** Our tagged rules in one table (and chain); undefined when the namespace is not there. */
  taggedRules(
    namespace: string | undefined,
    table: string,
    chain?: string,
  ): Promise<TaggedRule[] | undefined>;
  /**
   * Our nftables table (`inet linuxnet`) with its chains and rules, or one
   * with `exists: false` when the host has none; undefined when the namespace
   * is not there. Throws when `nft` fails otherwise (not installed, say).
   */
  nftTable(namespace: string | undefined): Promise<NftTableState | undefined>;
  /** `net.ipv4.ip_forward`; undefined when the namespace is not there. */
  ipForward(namespace: string | undefined): Promise<0 | 1 | undefined>;
  /**
   * A kernel setting (`/proc/sys/...`, a path checked by the caller) as the
   * kernel prints it, less the final newline; undefined when the namespace,
   * or the setting (an interface's, after the interface went), is not there.
   */
  sysctl(namespace: string | undefined, file: string): Promise<string | undefined>;
  /**
   * The id of the Sysctl whose claim holds a key (dotted) in a namespace
   * (host/sysctl.ts); undefined when no claim is there (none was made, or a
   * reboot cleared /run).
   */
  sysctlClaim(namespace: string | undefined, key: string): Promise<string | undefined>;
  /**
   * A link's forwarding-database entries (`bridge [-n NS] -json fdb show dev X`);
   * undefined when the link, or its namespace, is not there.
   */
  fdb(namespace: string | undefined, dev: string): Promise<FdbEntry[] | undefined>;
  /**
   * The qdiscs of one interface, as `tc -json qdisc show dev DEV` lists them;
   * undefined when the interface, or its namespace, is not there.
   */
  qdiscs(namespace: string | undefined, device: string): Promise<QdiscEntry[] | undefined>;
  /**
   * The host's boot id (`/proc/sys/kernel/random/boot_id`); undefined when it
   * cannot be read. Objects record it: on another boot they are gone.
   */
  bootId(): Promise<string | undefined>;
}

/** Equivalent to: `bridge [-n NS] -json fdb show dev X` */
export function fdbShowArgv(namespace: string | undefined, dev: string): string[] {
  return ["bridge", ...(namespace ? ["-n", namespace] : []), "-json", "fdb", "show", "dev", dev];
}

/**
 * The outcome of `nft -j list table inet linuxnet`: the table, no table, or
 * no namespace (undefined); any other failure throws, saying so plainly when
 * nft is not installed.
 */
export function nftTableOutcome(
  host: string,
  argv: string[],
  r: { readonly exitCode: number; readonly stdout: string; readonly stderr: string },
): NftTableState | undefined {
  if (r.exitCode === 0) return parseNftTable(r.stdout);
  if (isNftTableAbsent(r.stderr)) return NO_TABLE;
  if (NAMESPACE_GONE.test(r.stderr)) return undefined;
  const why = isNftMissing(r.exitCode, r.stderr)
    ? `${r.stderr.trim()} (${NFT_MISSING_HINT})`
    : r.stderr;
  throw new CommandError(host, argv, r.exitCode, r.stdout, why);
}

/** A qdisc as `tc -json qdisc show` reports it (the fields resources use). */
export interface QdiscEntry {
  /** `tbf`, `netem`, `noqueue`, `pfifo_fast`... */
  readonly kind: string;
  /** `"8001:"`; `"0:"` for a default qdisc the kernel attached by itself. */
  readonly handle: string;
  /** Set on the interface's root qdisc. */
  readonly root?: boolean;
  /** The parent (`"1:1"`) of a qdisc that is not the root. */
  readonly parent?: string;
  /** The kind's own settings, as tc prints them. */
  readonly options?: Readonly<Record<string, unknown>>;
}

/** Equivalent to: `tc [-n NS] -json qdisc show dev DEV` */
export function qdiscShowArgv(namespace: string | undefined, device: string): string[] {
  return ["tc", ...(namespace ? ["-n", namespace] : []), "-json", "qdisc", "show", "dev", device];
}

/** The facts of one link from its `ip -json -details link show` entry and its addresses. Pure. */
export function linkFacts(link: LinkState, addresses: readonly AddrState[]): LinkFacts {
  return {
    kind: link.linkinfo?.info_kind,
    addresses: configuredAddresses(addresses),
    up: isUp(link),
    mtu: link.mtu,
    bridge: link.master,
    ...(link.linkinfo?.info_data ? { data: settingsOf(link.linkinfo.info_data) } : {}),
    ...(link.ifalias ? { alias: link.ifalias } : {}),
  };
}

/**
 * A link type's settings without its running timers (a bridge's `gc_timer`,
 * `hello_timer`...), which tick between two reads and are no setting of anyone's.
 */
function settingsOf(data: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(data).filter(([key]) => !key.endsWith("_timer")));
}

/**
 * The one command that reads a link's details and its addresses together.
 * Equivalent to: `ip [-n NS] -json -details addr show dev NAME`
 */
export function linkDetailsArgv(namespace: string | undefined, name: string): string[] {
  return ipArgv(namespace, "-json", "-details", "addr", "show", "dev", name);
}

/** A link's facts from {@link linkDetailsArgv}'s output; undefined when it printed none. */
export function parseLinkDetails(stdout: string): LinkFacts | undefined {
  const link = parseJsonList<LinkState & { addr_info?: AddrState[] }>(stdout)[0];
  return link && linkFacts(link, link.addr_info ?? []);
}

const NAMESPACE_GONE = /Cannot open network namespace/;
const namespaceGone = (stderr: string) => NAMESPACE_GONE.test(stderr);

/** Equivalent to: `ip [-n NS] [-6] -json route show to exact DEST table T` */
export function routeShowArgv(
  namespace: string | undefined,
  destination: string,
  table: string,
  ipv6: boolean,
): string[] {
  return ipArgv(
    namespace,
    ...(ipv6 ? ["-6"] : []),
    "-json",
    "route",
    "show",
    "to",
    "exact",
    destination,
    "table",
    table,
  );
}

/**
 * A reader that asks the host itself, which it also hands over: for a read
 * that must look live rather than at recorded state (a connectivity probe
 * runs commands of its own). Only the runtime makes one for such a read.
 */
export interface LiveHostReader extends HostReader {
  readonly host: Host;
}

/** Answers each question with its own command (or two) on the host. */
export function liveReader(host: Host): LiveHostReader {
  return {
    name: host.name,
    host,

    async link(namespace, name) {
      const argv = linkDetailsArgv(namespace, name);
      const r = await host.run(argv);
      if (r.exitCode !== 0) {
        if (isLinkAbsent(r.stderr)) return undefined;
        await host.runOk(argv); // throws with the kernel's words
      }
      return parseLinkDetails(r.stdout);
    },

    namespaces: () => listNamespaces(host),

    async bootId() {
      // Equivalent to: `cat /proc/sys/kernel/random/boot_id`
      const r = await host.run(["cat", BOOT_ID_FILE]);
      return r.exitCode === 0 ? parseBootId(r.stdout) : undefined;
    },

    async loopbackUp(namespace) {
      // Equivalent to: `ip [-n NS] -json link show dev lo`
      const argv = ipArgv(namespace, "-json", "link", "show", "dev", "lo");
      const r = await host.run(argv);
      if (r.exitCode !== 0) {
        if (NAMESPACE_GONE.test(r.stderr)) return undefined;
        await host.runOk(argv);
      }
      const [lo] = parseJsonList<{ flags: string[] }>(r.stdout);
      return lo?.flags.includes("UP") ?? false;
    },

    async routes(namespace, destination, table, ipv6) {
      const argv = routeShowArgv(namespace, destination, table, ipv6);
      const r = await host.run(argv);
      if (r.exitCode !== 0) {
        if (NAMESPACE_GONE.test(r.stderr)) return undefined;
        await host.runOk(argv);
      }
      return parseJsonList<RouteEntry>(r.stdout);
    },

    taggedRules: (namespace, table, chain) => readTaggedRules(host, namespace, table, chain),

    async nftTable(namespace) {
      const argv = nftListTableArgv(namespace);
      return nftTableOutcome(host.name, argv, await host.run(argv));
    },

    async ipForward(namespace) {
      const argv = inNamespace(namespace, [...SECTION_COMMANDS.ip_forward]);
      const r = await host.run(argv);
      if (r.exitCode !== 0) {
        if (NAMESPACE_GONE.test(r.stderr)) return undefined;
        await host.runOk(argv);
      }
      return r.stdout.trim() === "1" ? 1 : 0;
    },

    async sysctl(namespace, file) {
      const found = await readSysctl(host, namespace, file);
      return "value" in found ? found.value : undefined;
    },
    sysctlClaim: (namespace, key) => readSysctlClaim(host, namespace, key),
    async fdb(namespace, dev) {
      const argv = fdbShowArgv(namespace, dev);
      const r = await host.run(argv);
      if (r.exitCode !== 0) {
        if (isLinkAbsent(r.stderr)) return undefined;
        await host.runOk(argv);
      }
      return parseJsonList<FdbEntry>(r.stdout);
    },
    async qdiscs(namespace, device) {
      const argv = qdiscShowArgv(namespace, device);
      const r = await host.run(argv);
      if (r.exitCode !== 0) {
        if (isLinkAbsent(r.stderr)) return undefined;
        await host.runOk(argv);
      }
      return parseJsonList<QdiscEntry>(r.stdout);
    },
  };
}

/** The kernel's own names of routing tables, as `ip` prints them. */
const TABLE_IDS: Readonly<Record<string, number>> = {
  unspec: 0,
  default: 253,
  main: 254,
  local: 255,
};

/** A table's number from its name or number; undefined for a name only the host's rt_tables knows. */
export function tableId(table: string | undefined): number | undefined {
  if (table === undefined) return TABLE_IDS.main;
  if (/^[0-9]+$/.test(table)) return Number(table);
  return TABLE_IDS[table];
}

/**
 * A destination as `(address)/(prefix length)` in one spelling, so `10.0.0.1`
 * and `10.0.0.1/32`, or two spellings of one IPv6 address, compare equal.
 * Undefined for something that is not an address of the family.
 */
export function prefixKey(destination: string, ipv6: boolean): string | undefined {
  if (destination === "default") return ipv6 ? "::/0" : "0.0.0.0/0";
  const [address = "", length, ...more] = destination.split("/");
  if (more.length > 0 || !ipaddr.isValid(address)) return undefined;
  const parsed = ipaddr.parse(address);
  if ((parsed.kind() === "ipv6") !== ipv6) return undefined;
  const bits = length === undefined ? (ipv6 ? 128 : 32) : Number(length);
  if (!/^[0-9]{1,3}$/.test(length ?? "0") || bits > (ipv6 ? 128 : 32)) return undefined;
  return `${parsed.toNormalizedString()}/${bits}`;
}

/**
 * The entries of `ip -json route show table all` that `show to exact DEST
 * table T` would list, without the `table` field (which `show table T` does
 * not print). Pure. "unknown" when a route to DEST sits in a table that only
 * the host's rt_tables can name, and T is asked for by number.
 */
export function routesTo(
  all: readonly (RouteEntry & { table?: string })[],
  destination: string,
  table: string,
  ipv6: boolean,
): RouteEntry[] | "unknown" {
  const want = prefixKey(destination, ipv6);
  const wantTable = tableId(table);
  const found: RouteEntry[] = [];
  for (const entry of all) {
    if (want === undefined || prefixKey(entry.dst, ipv6) !== want) continue;
    const { table: entryTable, ...rest } = entry;
    const id = tableId(entryTable);
    if (id === undefined || wantTable === undefined) {
      if (entryTable === table) found.push(rest);
      else return "unknown";
    } else if (id === wantTable) {
      found.push(rest);
    }
  }
  return found;
}

/**
 * Answers every question from one snapshot: no command runs. A question the
 * snapshot cannot answer (an iptables table it does not hold, a routing table
 * it can name only by the host's rt_tables) goes to `live` when one is given.
 */
export function snapshotReader(snapshot: HostSnapshot, live?: HostReader): HostReader {
  const host = snapshot.host;
  let parsed = parsedSections.get(snapshot);
  if (!parsed) parsedSections.set(snapshot, (parsed = new Map()));

  const needLive = (what: string): HostReader => {
    if (live) return live;
    throw new Error(`on ${host}: the snapshot does not hold ${what}, and no live reader was given`);
  };

  /** The dump of a namespace; undefined when it is not there (never listed, or gone when the dump came to it). */
  const dumpOf = (namespace: string | undefined): NamespaceDump | undefined => {
    if (!namespace) return snapshot.own;
    if (snapshot.listing) {
      const { exitCode, stderr } = snapshot.listing;
      throw new CommandError(host, ["ip", "netns", "list"], exitCode, "", stderr);
    }
    const dump = snapshot.namespaces.get(namespace);
    if (!dump?.unreachable) return dump;
    if (NAMESPACE_GONE.test(dump.unreachable.stderr)) return undefined;
    const { exitCode, stderr } = dump.unreachable;
    throw new CommandError(host, ["ip", "netns", "exec", namespace], exitCode, "", stderr);
  };

  /**
   * One section of a namespace's dump: its stdout, or `undefined` when its
   * command failed in a way `absent` describes; any other failure throws as
   * the command on its own would have.
   */
  const section = (
    namespace: string | undefined,
    dump: NamespaceDump,
    name: SectionName,
    absent: (stderr: string) => boolean,
  ): string | undefined => {
    const argv = sectionArgv(namespace, name);
    const out = dump.sections[name];
    if (!out) {
      throw new CommandError(host, argv, -1, "", "(the host snapshot holds no output for this)");
    }
    if (out.exitCode === 0) return out.stdout;
    if (absent(out.stderr)) return undefined;
    throw new CommandError(host, argv, out.exitCode, out.stdout, out.stderr);
  };

  /** A section parsed once per snapshot, however many resources (and readers) ask. */
  const memo = <T>(namespace: string | undefined, name: string, parse: () => T): T => {
    const key = `${namespace ?? ""}\n${name}`;
    if (!parsed.has(key)) parsed.set(key, parse());
    return parsed.get(key) as T;
  };

  const linksOf = (namespace: string | undefined, dump: NamespaceDump) =>
    memo(namespace, "link", () => {
      const text = section(namespace, dump, "link", isLinkAbsent);
      return text === undefined
        ? undefined
        : new Map(parseJsonList<LinkState>(text).map((l) => [l.ifname, l]));
    });

  const addressesOf = (namespace: string | undefined, dump: NamespaceDump) =>
    memo(namespace, "addr", () => {
      const text = section(namespace, dump, "addr", isLinkAbsent);
      return text === undefined
        ? undefined
        : new Map(
            parseJsonList<{ ifname: string; addr_info?: AddrState[] }>(text).map((l) => [
              l.ifname,
              l.addr_info ?? [],
            ]),
          );
    });

  const rulesOf = (namespace: string | undefined, dump: NamespaceDump, table: "nat" | "filter") =>
    memo(namespace, table, () => {
      const text = section(namespace, dump, table, namespaceGone);
      return text === undefined ? undefined : { text, rules: parseTaggedRules(text) };
    });

  return {
    name: host,

    async bootId() {
      return snapshot.bootId ?? (live ? live.bootId() : undefined);
    },

    async link(namespace, name) {
      const dump = dumpOf(namespace);
      if (!dump) return undefined;
      const link = linksOf(namespace, dump)?.get(name);
      if (!link) return undefined;
      // A link made between the two commands of the dump has no entry here: no addresses, as a live read would say.
      return linkFacts(link, addressesOf(namespace, dump)?.get(name) ?? []);
    },

    async namespaces() {
      if (snapshot.listing) {
        const { exitCode, stderr } = snapshot.listing;
        throw new CommandError(host, ["ip", "-json", "netns", "list"], exitCode, "", stderr);
      }
      return [...snapshot.namespaces.values()]
        .filter((d) => !(d.unreachable && NAMESPACE_GONE.test(d.unreachable.stderr)))
        .map((d) => d.name!);
    },

    async loopbackUp(namespace) {
      const dump = dumpOf(namespace);
      if (!dump) return undefined;
      const links = linksOf(namespace, dump);
      if (!links) return undefined;
      return links.get("lo") ? isUp(links.get("lo")!) : false;
    },

    async routes(namespace, destination, table, ipv6) {
      const dump = dumpOf(namespace);
      if (!dump) return undefined;
      const family = ipv6 || destination.includes(":") ? "route6" : "route4";
      const all = memo(namespace, family, () => {
        const text = section(namespace, dump, family, namespaceGone);
        return text === undefined
          ? undefined
          : parseJsonList<RouteEntry & { table?: string }>(text);
      });
      if (!all) return undefined;
      const found = routesTo(all, destination, table, family === "route6");
      if (found !== "unknown") return found;
      return needLive(`the routing table "${table}"`).routes(namespace, destination, table, ipv6);
    },

    async taggedRules(namespace, table, chain) {
      if (table !== "nat" && table !== "filter") {
        return needLive(`the iptables table "${table}"`).taggedRules(namespace, table, chain);
      }
      const dump = dumpOf(namespace);
      if (!dump) return undefined;
      const found = rulesOf(namespace, dump, table);
      if (!found) return undefined;
      if (chain === undefined) return found.rules;
      if (!hasChain(found.text, chain)) {
        // `iptables -S CHAIN` fails for a chain that does not exist; say so the same way.
        throw new CommandError(
          host,
          inNamespace(namespace, iptablesArgv(undefined, table, "-S", chain)),
          1,
          "",
          "iptables: No chain/target/match by that name.",
        );
      }
      return found.rules.filter((r) => r.chain === chain);
    },

    async nftTable(namespace) {
      const dump = dumpOf(namespace);
      if (!dump) return undefined;
      return memo(namespace, "nftables", () => {
        const out = dump.sections.nftables;
        const argv = sectionArgv(namespace, "nftables");
        if (!out) {
          throw new CommandError(
            host,
            argv,
            -1,
            "",
            "(the host snapshot holds no output for this)",
          );
        }
        return nftTableOutcome(host, argv, out);
      });
    },

    async ipForward(namespace) {
      const dump = dumpOf(namespace);
      if (!dump) return undefined;
      const text = section(namespace, dump, "ip_forward", namespaceGone);
      if (text === undefined) return undefined;
      return text.trim() === "1" ? 1 : 0;
    },

    async sysctl(namespace, file) {
      // The snapshot holds only the few settings a refresh of every kind needs.
      return needLive(`the setting ${file}`).sysctl(namespace, file);
    },
    sysctlClaim: (namespace, key) => needLive(`the claim on ${key}`).sysctlClaim(namespace, key),
    // The snapshot does not dump forwarding databases: a bridge's holds an entry per
    // MAC seen on every port, which every refresh would pay for. The few VXLAN reads ask live.
    async fdb(namespace, dev) {
      return needLive("forwarding-database entries").fdb(namespace, dev);
    },
    // The snapshot holds no qdiscs (a refresh of the kinds without them would pay for them).
    qdiscs: (namespace, device) => needLive("qdiscs").qdiscs(namespace, device),
  };
}

/**
 * Sections already parsed, per snapshot: every read of a refresh gets a reader
 * of its own, and the host's link list (one entry per bridge port) would
 * otherwise be parsed again by each of them.
 */
const parsedSections = new WeakMap<HostSnapshot, Map<string, unknown>>();

/** The command a section stands for, in a namespace or on the host. */
export function sectionArgv(namespace: string | undefined, name: SectionName): string[] {
  const argv = [...SECTION_COMMANDS[name]];
  if (argv[0] === "ip") return ipArgv(namespace, ...argv.slice(1));
  return inNamespace(namespace, argv);
}

/** True when `iptables -S` output declares the chain (built in: `-P`, user: `-N`). */
function hasChain(text: string, chain: string): boolean {
  return text.split("\n").some((l) => l === `-N ${chain}` || l.startsWith(`-P ${chain} `));
}
