/**
 * Vxlan: one layer-2 segment across hosts. A VXLAN device carries the frames
 * it is given, wrapped in UDP, to the other hosts of its segment: to each
 * unicast remote kept in its forwarding database (head-end replication, so
 * that several hosts share one segment), or to a multicast group. Joined to a
 * bridge as a port, it extends that bridge to the bridges of the other hosts.
 */

import ipaddr from "ipaddr.js";
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import type { Host } from "../transport";
import { LinuxnetResource } from "./program";
import type { FdbEntry } from "../host/reader";
import { ipArgv, parseJsonList } from "../host/ip";
import { type BaseInputs, containsUnknown } from "./kind";
import {
  type FieldType,
  addressList,
  checked,
  connection,
  adoptField,
  declareKind,
  generatedName,
  integer,
} from "./declare";
import {
  type LinkSettings,
  createLink,
  deleteLink,
  planLinkMark,
  inOrderOf,
  linkId,
  managedView,
  readLink,
  runPlan,
  updateLink,
} from "./link";
import { markFor } from "./owner";
import {
  type Checker,
  MAX_INTERFACE_NAME_BYTES,
  interfaceNameProblem,
  isUnknown,
  mtuProblem,
  namespaceNameProblem,
  shown,
} from "./validate";

/** The largest VXLAN network identifier: VNIs are 24 bits. */
export const MAX_VNI = 16777215;

/** The IANA port of VXLAN, the default `port`. */
export const VXLAN_PORT = 4789;

/**
 * What VXLAN over IPv4 adds to each frame: outer IPv4 (20), UDP (8) and VXLAN
 * (8) headers and the inner Ethernet header (14). A VXLAN device's MTU is its
 * underlay's less this, or the wrapped frames do not fit the underlay.
 */
export const VXLAN_IPV4_OVERHEAD = 50;

/** The MTU of a VXLAN device whose underlay is not known: a 1500-byte Ethernet's. */
export const FALLBACK_VXLAN_MTU = 1500 - VXLAN_IPV4_OVERHEAD;

/** The MAC of the default forwarding entry: frames with no entry of their own go there. */
export const ALL_ZERO_MAC = "00:00:00:00:00:00";

/** Inputs of a Vxlan, as the provider sees them. */
export interface VxlanInputs extends BaseInputs {
  readonly name: string;
  readonly autoNamed?: boolean;
  /** The VXLAN network identifier, 1 to 16777215: hosts of one segment share it. */
  readonly vni: number;
  /** Unicast peers (IPv4): one all-zero forwarding entry each. */
  readonly remotes: string[];
  /** A multicast group (IPv4) instead of remotes. */
  readonly group?: string;
  /** The source address of the wrapped packets. */
  readonly local?: string;
  /** The underlay device. */
  readonly device?: string;
  /** The UDP port; 4789. */
  readonly port: number;
  /** The bridge it is a port of. */
  readonly bridge?: string;
  readonly namespace?: string;
  readonly mtu?: number;
  readonly addresses: string[];
  /** Take over an existing unmarked object of this name. */
  readonly adopt?: boolean;
}

/** Outputs of a Vxlan: its inputs, and the MTU it has. */
export interface VxlanOutputs extends VxlanInputs {
  /** The MTU the device has, as last read: `mtu`, or the one derived at create. */
  readonly effectiveMtu?: number;
}

// -- Plans (pure) -------------------------------------------------------------------------

/**
 * The words after `type vxlan`.
 * Equivalent to: `id VNI [local IP] [group IP] [dev DEV] dstport PORT`
 */
export function vxlanTypeWords(inputs: VxlanInputs): string[] {
  return [
    "id",
    String(inputs.vni),
    ...(inputs.local ? ["local", inputs.local] : []),
    ...(inputs.group ? ["group", inputs.group] : []),
    ...(inputs.device ? ["dev", inputs.device] : []),
    "dstport",
    String(inputs.port),
  ];
}

/** `bridge` run in a namespace, or on the host. Equivalent to: `bridge [-n NS] ARGS...` */
function bridgeArgv(namespace: string | undefined, ...args: string[]): string[] {
  return namespace ? ["bridge", "-n", namespace, ...args] : ["bridge", ...args];
}

/**
 * Sends broadcast and unknown frames to one more remote. `append`, not `add`:
 * the all-zero MAC holds one entry per remote.
 * Equivalent to: `bridge [-n NS] fdb append 00:00:00:00:00:00 dev X dst IP`
 */
export function planRemoteAdd(
  namespace: string | undefined,
  dev: string,
  remote: string,
): string[] {
  return bridgeArgv(namespace, "fdb", "append", ALL_ZERO_MAC, "dev", dev, "dst", remote);
}

/** Equivalent to: `bridge [-n NS] fdb del 00:00:00:00:00:00 dev X dst IP` */
export function planRemoteDelete(
  namespace: string | undefined,
  dev: string,
  remote: string,
): string[] {
  return bridgeArgv(namespace, "fdb", "del", ALL_ZERO_MAC, "dev", dev, "dst", remote);
}

/** The commands that take the remotes from `have` to `want`: removals first. */
export function planRemoteChanges(
  namespace: string | undefined,
  dev: string,
  have: readonly string[],
  want: readonly string[],
): string[][] {
  return [
    ...have.filter((r) => !want.includes(r)).map((r) => planRemoteDelete(namespace, dev, r)),
    ...want.filter((r) => !have.includes(r)).map((r) => planRemoteAdd(namespace, dev, r)),
  ];
}

/**
 * The remotes in a VXLAN device's forwarding entries: the `dst` of its own
 * (`self`) all-zero entries, in the kernel's order, less a multicast group's
 * (which the kernel adds itself). Learned entries (a MAC of a host behind a
 * remote) and the bridge's entries are not remotes. Pure.
 */
export function remotesOf(entries: readonly FdbEntry[], group?: string): string[] {
  const found: string[] = [];
  for (const e of entries) {
    if (e.mac !== ALL_ZERO_MAC || !e.dst || e.master) continue;
    if (e.flags && !e.flags.includes("self")) continue;
    if (e.dst === group || found.includes(e.dst)) continue;
    found.push(e.dst);
  }
  return found;
}

/** The MTU of a VXLAN device over an underlay of `underlayMtu` (over IPv4). */
export function derivedMtu(underlayMtu: number | undefined): number {
  return underlayMtu === undefined
    ? FALLBACK_VXLAN_MTU
    : Math.max(68, underlayMtu - VXLAN_IPV4_OVERHEAD);
}

/** A route as `ip -json route get` reports it (the fields we use). */
interface RouteGot {
  readonly dev?: string;
  readonly metrics?: readonly { readonly mtu?: number }[];
}

/**
 * The MTU of the underlay towards `remote`: the route's own `mtu` when it has
 * one, else that of the device the route leaves by. Undefined when there is
 * no route or the device cannot be read. Read-only: two `ip` commands.
 * Equivalent to: `ip [-n NS] -json route get REMOTE` and `ip [-n NS] -json link show dev DEV`
 */
export async function underlayMtuTowards(
  host: Host,
  namespace: string | undefined,
  remote: string,
): Promise<number | undefined> {
  const got = await host.run(ipArgv(namespace, "-json", "route", "get", remote));
  if (got.exitCode !== 0) return undefined;
  const route = parseJsonList<RouteGot>(got.stdout)[0];
  const routeMtu = route?.metrics?.find((m) => m.mtu !== undefined)?.mtu;
  if (!route?.dev) return routeMtu;
  const dev = await host.run(ipArgv(namespace, "-json", "link", "show", "dev", route.dev));
  if (dev.exitCode !== 0) return routeMtu;
  const devMtu = parseJsonList<{ mtu: number }>(dev.stdout)[0]?.mtu;
  return routeMtu !== undefined && devMtu !== undefined
    ? Math.min(routeMtu, devMtu)
    : (routeMtu ?? devMtu);
}

// -- Fields -------------------------------------------------------------------------------

/** Why `value` is not a usable IPv4 address of `kind`, or the address normalised. */
function ipv4(value: unknown, kind: "unicast" | "multicast"): string | { address: string } {
  const example = kind === "unicast" ? "10.213.0.2" : "239.1.1.1";
  if (typeof value !== "string" || !ipaddr.isValid(value)) {
    return `must be an IPv4 address like "${example}", got ${shown(value)}`;
  }
  const addr = ipaddr.parse(value);
  if (addr.kind() !== "ipv4") {
    return `must be an IPv4 address (an IPv6 underlay is not supported), got ${JSON.stringify(value)}`;
  }
  if (!ipaddr.IPv4.isValidFourPartDecimal(value)) {
    return `must be written in dotted-quad form, got ${JSON.stringify(value)}`;
  }
  const range = addr.range();
  if (kind === "multicast") {
    return range === "multicast"
      ? { address: addr.toString() }
      : `must be a multicast address (224.0.0.0/4), got ${JSON.stringify(value)}`;
  }
  if (range === "unspecified" || range === "multicast" || range === "broadcast") {
    return `must be a unicast address, got ${JSON.stringify(value)} (${range})`;
  }
  return { address: addr.toString() };
}

/** One IPv4 address of `kind`, normalised; unset and unknown pass. */
function address(kind: "unicast" | "multicast"): FieldType {
  return {
    check(value, ctx) {
      if (value === undefined || value === null || isUnknown(value)) return undefined;
      const parsed = ipv4(value, kind);
      if (typeof parsed === "string") ctx.checker.fail(ctx.path, parsed);
      else return parsed.address;
      return undefined;
    },
  };
}

/** Unicast IPv4 peers, normalised, none repeated; `[]` when omitted. Unknown elements pass. */
const remoteList: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) return [];
    if (isUnknown(value)) return undefined;
    if (!Array.isArray(value)) {
      ctx.checker.fail(ctx.path, 'must be a list of IPv4 addresses like ["10.213.0.3"]');
      return undefined;
    }
    const out: unknown[] = [];
    value.forEach((item, i) => {
      if (isUnknown(item)) return void out.push(item);
      const parsed = ipv4(item, "unicast");
      if (typeof parsed === "string") return void ctx.checker.fail(`${ctx.path}[${i}]`, parsed);
      if (out.includes(parsed.address)) {
        ctx.checker.fail(`${ctx.path}[${i}]`, `repeats the remote ${parsed.address}`);
      }
      out.push(parsed.address);
    });
    return out;
  },
};

/** The VNI: required, 1 to 16777215. */
const vni: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) {
      ctx.checker.fail(ctx.path, `is required: the segment's VXLAN id, from 1 to ${MAX_VNI}`);
      return undefined;
    }
    return integer(1, MAX_VNI).check(value, ctx);
  },
};

/** The port: 1 to 65535, 4789 when omitted. */
const port: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) return VXLAN_PORT;
    return integer(1, 65535).check(value, ctx);
  },
};

/** Rules across the fields: remotes or a group, never both; a group needs a device; no remote is us. */
function segmentRules(out: Record<string, unknown>, c: Checker): void {
  const remotes = Array.isArray(out.remotes) ? out.remotes : [];
  const known = (v: unknown) => typeof v === "string" && !isUnknown(v);
  if (known(out.group) && remotes.length > 0) {
    c.fail(
      "group",
      "and remotes exclude each other: a segment floods to a multicast group or to unicast remotes",
    );
  }
  if (known(out.group) && out.device === undefined) {
    c.fail("device", "is required with group: the kernel joins the multicast group on a device");
  }
  if (known(out.local) && !containsUnknown(remotes)) {
    const i = remotes.indexOf(out.local);
    if (i >= 0) {
      c.fail(`remotes[${i}]`, `is local (${String(out.local)}): a host is no remote of its own`);
    }
  }
}

function settings(inputs: VxlanInputs, mtu = inputs.mtu): LinkSettings {
  return { addresses: inputs.addresses, up: true, mtu, bridge: inputs.bridge };
}

// -- The kind -----------------------------------------------------------------------------

/** The Vxlan kind: its inputs as declared, and its lifecycle. */
export const vxlanKind = declareKind<VxlanInputs, VxlanOutputs>({
  name: "Vxlan",
  fields: {
    connection: connection("replace-on-host"),
    name: {
      type: generatedName({ maxBytes: MAX_INTERFACE_NAME_BYTES, problem: interfaceNameProblem }),
      change: "replace",
    },
    // The kernel fixes a VXLAN device's id, addresses, device and port when it is added.
    vni: { type: vni, change: "replace" },
    remotes: { type: remoteList, change: "update" },
    group: { type: address("multicast"), change: "replace" },
    local: { type: address("unicast"), change: "replace" },
    device: { type: checked(interfaceNameProblem), change: "replace", rule: segmentRules },
    port: { type: port, change: "replace", absentIs: VXLAN_PORT },
    bridge: { type: checked(interfaceNameProblem), change: "update" },
    namespace: { type: checked(namespaceNameProblem), change: "replace" },
    mtu: { type: checked(mtuProblem), change: "update" },
    addresses: { type: addressList(), change: "update" },
    adopt: adoptField(),
  },
  outputs: ["effectiveMtu"],
  snapshotRead: true,
  // The kernel holds a name once, and a VNI on a port once per namespace ("A VXLAN device with
  // the specified VNI already exists"): a rename that keeps those adds the new device after the old goes.
  deleteBeforeReplace: { keeps: ["name", ["namespace", "vni", "port"]] },

  idOf: (inputs) => linkId(inputs.namespace, inputs.name),

  async create(host, inputs) {
    const { namespace, name } = inputs;
    // With a device, the kernel itself sets its MTU less the overhead; without one, we do.
    let mtu = inputs.mtu;
    if (mtu === undefined && inputs.device === undefined) {
      const first = inputs.remotes[0];
      mtu = derivedMtu(first ? await underlayMtuTowards(host, namespace, first) : undefined);
    }
    const remotes = inputs.remotes.map((remote) => ({
      argv: planRemoteAdd(namespace, name, remote),
      // Deleting the device takes its forwarding entries with it.
      undo: async () => {},
    }));
    const seen = await createLink(
      host,
      {
        host: inputs.connection?.host,
        namespace,
        name,
        type: "vxlan",
        typeWords: vxlanTypeWords(inputs),
        mark: markFor(inputs, "Vxlan"),
        settings: settings(inputs, mtu),
      },
      remotes,
    );
    return { ...inputs, effectiveMtu: seen.mtu };
  },

  async mark(host, inputs, mark) {
    await host.runOk(planLinkMark(inputs.namespace, inputs.name, mark));
  },

  async read(reader, _id, props) {
    const seen = await readLink(reader, props.namespace, props.name, "vxlan");
    if (!seen) return undefined;
    const fdb = await reader.fdb(props.namespace, props.name);
    // Gone between the two questions: gone.
    if (!fdb) return undefined;
    const view = managedView(seen, settings(props));
    const data = seen.data ?? {};
    const text = (v: unknown) => (typeof v === "string" ? v : undefined);
    const num = (v: unknown, fallback: number) => (typeof v === "number" ? v : fallback);
    return {
      ...props,
      // What the kernel fixed at add time, as it has it now: a device made anew by someone else shows as a replacement.
      vni: num(data.id, props.vni),
      port: num(data.port, props.port),
      local: text(data.local),
      group: text(data.group),
      device: text(data.link),
      remotes: inOrderOf(remotesOf(fdb, text(data.group)), props.remotes),
      bridge: view.bridge,
      addresses: [...view.addresses],
      mtu: view.mtu,
      effectiveMtu: seen.mtu,
    };
  },

  async update(host, _id, olds, news) {
    const { namespace, name } = news;
    await updateLink(host, namespace, name, settings(olds), settings(news));
    await runPlan(host, planRemoteChanges(namespace, name, olds.remotes, news.remotes));
    return { ...news, effectiveMtu: news.mtu ?? olds.effectiveMtu };
  },

  async delete(host, _id, props) {
    await deleteLink(host, props.namespace, props.name);
  },
});

// -- The program side ---------------------------------------------------------------------

/** Arguments of a {@link Vxlan}. */
export interface VxlanArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the device; any other change updates in place (see
   * {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The device's interface name (at most 15 bytes; letters, digits, `_`, `.`, `-`): `"vx-ew"`.
   * When omitted, `<resource name>-<5 random hex digits>` cut to fit, kept across updates.
   * Changing it replaces the device. A replacement that keeps the name, or keeps the
   * namespace, `vni` and `port` together (a rename), deletes the old device first: the kernel
   * holds each of those once.
   */
  name?: pulumi.Input<string>;
  /**
   * The VXLAN network identifier, 1 to 16777215, required: `42`. Every host of one
   * segment uses the same. Changing it replaces the device.
   */
  vni: pulumi.Input<number>;
  /**
   * The other hosts of the segment: their unicast IPv4 underlay addresses,
   * `[west.address]`. Each is kept as a forwarding entry
   * (`bridge fdb append 00:00:00:00:00:00 dev X dst IP`), so broadcast and
   * unknown frames go to every remote (head-end replication) and any number of
   * hosts share one segment. None when omitted (a segment of one until remotes are
   * added). May not repeat, may not hold `local`, and excludes `group`. Updates in
   * place: only the added and removed entries change, and a refresh reports entries
   * deleted or added out of band.
   */
  remotes?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * A multicast group (IPv4, 224.0.0.0/4) to flood to instead of `remotes`:
   * `"239.1.1.1"`. Needs `device`. Changing it replaces the device.
   */
  group?: pulumi.Input<string>;
  /**
   * The source address of the wrapped packets, an IPv4 address of this host:
   * `east.address`. The routing table's choice when omitted. Changing it replaces the device.
   */
  local?: pulumi.Input<string>;
  /**
   * The underlay device the wrapped packets leave by (and where a `group` is
   * joined): `"eth0"`. The route to each remote decides when omitted. Changing
   * it replaces the device.
   */
  device?: pulumi.Input<string>;
  /** The UDP port, 1 to 65535; 4789 (IANA's) when omitted. Changing it replaces the device. */
  port?: pulumi.Input<number>;
  /**
   * A bridge in the same namespace that the device joins as a port: `br.name`; this
   * extends that bridge to the other hosts' bridges. None when omitted. Updates in
   * place (`ip link set master` / `nomaster`).
   */
  bridge?: pulumi.Input<string>;
  /** The namespace it lives in, whose routes carry the wrapped packets; the host's own when omitted. Replaces. */
  namespace?: pulumi.Input<string>;
  /**
   * The device's MTU, 68 to 65535: `1450`. When omitted it is derived at create
   * so that a wrapped frame fits the underlay: the underlay's MTU less 50 (the
   * outer IPv4, UDP and VXLAN headers and the inner Ethernet header). The
   * underlay is `device` when given (the kernel derives it); otherwise the
   * device (or the route's own `mtu`) of the route to the first remote, read on
   * the host at create, since `check` never reads a host; with neither a
   * device nor a remote, or no route, 1450 (a 1500-byte Ethernet's). The result
   * is the `effectiveMtu` output; an omitted `mtu` is never reported as drift.
   * Updates in place; removing it leaves the MTU as it is.
   */
  mtu?: pulumi.Input<number>;
  /**
   * Addresses on the device itself, in CIDR form: `["10.77.0.1/24"]` (for a segment
   * without a bridge). None when omitted. Updates in place.
   */
  addresses?: pulumi.Input<pulumi.Input<string>[]>;
  /**
   * Take over a VXLAN device of this name that exists already and carries no mark
   * of ours (one made by hand or by netplan): its VNI, port, local, group and device must be as given (they cannot change), its remotes, MTU, addresses and bridge are converged, and it is
   * marked as this resource's (its alias). Deleting the resource then deletes
   * it; give the `retainOnDelete` resource option to keep it. One of another
   * kind, or marked by another resource, is refused either way. False when
   * omitted; turning it on or off later changes nothing.
   */
  adopt?: pulumi.Input<boolean>;
}

/**
 * A VXLAN device: one layer-2 segment across hosts, usually a port of a bridge on each.
 * Equivalent to: `ip link add NAME type vxlan id VNI [local IP] [dev DEV] dstport PORT`, then
 * `bridge fdb append 00:00:00:00:00:00 dev NAME dst REMOTE` per remote, the bridge port,
 * addresses and up.
 *
 * @example
 * ```ts
 * new linuxnet.Vxlan("ew", { connection, name: "vx-ew", vni: 42, remotes: [westIp],
 *   local: eastIp, bridge: br.name });
 * ```
 */
export class Vxlan extends LinuxnetResource {
  /** The device's name. */
  declare readonly name: pulumi.Output<string>;
  /** The VNI. */
  declare readonly vni: pulumi.Output<number>;
  /** The remotes as last read: those asked for, then any others found in the forwarding database. */
  declare readonly remotes: pulumi.Output<string[]>;
  /** The multicast group, if any. */
  declare readonly group: pulumi.Output<string | undefined>;
  /** The source address, if given. */
  declare readonly local: pulumi.Output<string | undefined>;
  /** The underlay device, if given. */
  declare readonly device: pulumi.Output<string | undefined>;
  /** The UDP port. */
  declare readonly port: pulumi.Output<number>;
  /** The bridge it is a port of, as last read. */
  declare readonly bridge: pulumi.Output<string | undefined>;
  /** The namespace it lives in; undefined for the host's own. */
  declare readonly namespace: pulumi.Output<string | undefined>;
  /** The MTU as last read, when `mtu` was given; undefined otherwise. */
  declare readonly mtu: pulumi.Output<number | undefined>;
  /** The MTU the device has, as last read: `mtu`, or the one derived at create. */
  declare readonly effectiveMtu: pulumi.Output<number>;
  /** The addresses on the device as last read. */
  declare readonly addresses: pulumi.Output<string[]>;
  /**
   * @param name - The resource's name in the stack; the prefix of a generated `name`.
   * @param args - The device's inputs; `vni` is required.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: VxlanArgs, opts?: pulumi.CustomResourceOptions) {
    super(vxlanKind, name, args, opts);
  }
}
