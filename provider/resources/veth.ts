/**
 * VethPair: a virtual patch cable. Each end is in a namespace or on the host,
 * optionally a port of a bridge (in the same namespace, as the kernel
 * requires), with its own addresses.
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import { LinuxnetResource } from "./program";
import { type LinkFacts, linkDetailsArgv, parseLinkDetails } from "../host/reader";
import { type BaseInputs, containsUnknown, throwIfStepFailed, transactional } from "./kind";
import {
  type Field,
  addressList,
  bool,
  adoptField,
  checked,
  connection,
  declareKind,
  generatedName,
  object,
} from "./declare";
import {
  FRESH_LINK,
  type LinkAttrs,
  type LinkSettings,
  assertReadBack,
  deleteLink,
  linkAttrWords,
  linkId,
  managedView,
  planArpNotify,
  planLinkAdd,
  planLinkChanges,
  planLinkMark,
  readLink,
  stableMac,
  updateLink,
} from "./link";
import { ExistsError, isMark, markFor } from "./owner";
import { type LinkState, ipArgv, parseJsonList } from "../host/ip";
import type { Host } from "../transport";
import {
  type Checker,
  MAX_INTERFACE_NAME_BYTES,
  interfaceNameProblem,
  mtuProblem,
  namespaceNameProblem,
} from "./validate";

/**
 * One end of a veth pair as the provider records it: the `a` and `b` outputs
 * of a {@link VethPair}, with defaults applied and, after a refresh, what the
 * host has.
 */
export interface VethEnd {
  /** The end's interface name: the one given, or the one generated. */
  readonly name: string;
  /** True when `name` was generated, so that it is kept across updates. */
  readonly autoNamed?: boolean;
  /** Its namespace; the host's own when unset. */
  readonly namespace?: string;
  /** A bridge (in the same namespace) this end is a port of, as last read; none when unset. */
  readonly bridge?: string;
  /** The addresses on this end as last read: those asked for, then any others found (drift). */
  readonly addresses: string[];
  /** Whether the end is administratively up, as last read. */
  readonly up: boolean;
}

/** Inputs of a VethPair, as the provider sees them. */
export interface VethInputs extends BaseInputs {
  readonly a: VethEnd;
  readonly b: VethEnd;
  /** MTU of both ends (a veth pair should agree on it). */
  readonly mtu?: number;
  /** Take over an existing unmarked pair of these names. */
  readonly adopt?: boolean;
}

/** Outputs of a VethPair. */
export type VethOutputs = VethInputs;

/**
 * Creates both ends, each straight into its namespace, so neither ever exists
 * on the host, each with its {@link stableMac}.
 * Equivalent to: `ip link add name A address MAC [netns NSA] type veth peer name B address MAC [netns NSB]`
 */
export function planVethAdd(inputs: VethInputs): string[] {
  const { a, b, mtu } = inputs;
  const host = inputs.connection?.host;
  const attrs = (end: VethEnd): LinkAttrs => ({
    name: end.name,
    mac: stableMac(host, end.namespace, end.name),
    netns: end.namespace,
    mtu,
  });
  return planLinkAdd(undefined, attrs(a), "veth", ["peer", ...linkAttrWords(attrs(b))]);
}

function endSettings(end: VethEnd, mtu: number | undefined): LinkSettings {
  return { addresses: end.addresses, up: end.up, mtu, bridge: end.bridge };
}

/**
 * One end's fields: a changed name or namespace replaces the pair, the rest
 * updates in place. `suffix` keeps the two generated names of a pair apart.
 */
function end(suffix: "a" | "b"): Field {
  return {
    type: object(
      {
        name: {
          type: generatedName({
            maxBytes: MAX_INTERFACE_NAME_BYTES,
            problem: interfaceNameProblem,
            suffix,
          }),
          change: "replace",
        },
        namespace: { type: checked(namespaceNameProblem), change: "replace" },
        bridge: { type: checked(interfaceNameProblem), change: "update" },
        addresses: { type: addressList(), change: "update" },
        up: { type: bool(true), change: "update" },
      },
      { required: true },
    ),
    change: "update",
  };
}

/** The kernel holds a name once per namespace: the two ends of one pair may not share it. */
function endsApart(out: Record<string, unknown>, c: Checker): void {
  const a = out.a as Partial<VethEnd> | undefined;
  const b = out.b as Partial<VethEnd> | undefined;
  if (
    a?.name &&
    b?.name &&
    !containsUnknown([a, b]) &&
    a.name === b.name &&
    (a.namespace ?? "") === (b.namespace ?? "")
  ) {
    c.fail(
      "b.name",
      `must differ from a.name ("${a.name}") when both ends are in the same namespace`,
    );
  }
}

/** One end as `ip -json -details link show` reports it; undefined when it is not there. */
async function seeEnd(host: Host, end: VethEnd): Promise<LinkState | undefined> {
  const r = await host.run(
    ipArgv(end.namespace, "-json", "-details", "link", "show", "dev", end.name),
  );
  return r.exitCode === 0 ? parseJsonList<LinkState>(r.stdout)[0] : undefined;
}

/**
 * The names a namespace gives other namespaces' ids (`ip netns list-id`);
 * undefined when it cannot tell. Equivalent to: `ip [-n NS] -json netns list-id`
 */
async function nsidNames(
  host: Host,
  namespace: string | undefined,
): Promise<ReadonlyMap<number, string> | undefined> {
  const r = await host.run(ipArgv(namespace, "-json", "netns", "list-id"));
  if (r.exitCode !== 0) return undefined;
  try {
    const ids = parseJsonList<{ nsid?: number; name?: string }>(r.stdout);
    return new Map(ids.flatMap((i) => (i.nsid !== undefined && i.name ? [[i.nsid, i.name]] : [])));
  } catch {
    return undefined;
  }
}

/**
 * Why two existing veths are not one pair, or undefined when each is the
 * other's peer: in one namespace, each names the other as its `link`; across
 * two, each one's `link_index` is the other's ifindex, and the id each
 * namespace gives its peer's namespace names that namespace (where it can
 * tell). Pure.
 */
export function vethPeerProblem(
  a: Pick<VethEnd, "name" | "namespace">,
  seenA: LinkState,
  b: Pick<VethEnd, "name" | "namespace">,
  seenB: LinkState,
  idsOfA?: ReadonlyMap<number, string>,
  idsOfB?: ReadonlyMap<number, string>,
): string | undefined {
  const peerOf = (s: LinkState) =>
    s.link !== undefined
      ? `"${s.link}"`
      : s.link_index !== undefined
        ? `ifindex ${s.link_index} in the namespace of id ${s.link_netnsid ?? "?"}`
        : "unknown";
  const named = (
    ids: ReadonlyMap<number, string> | undefined,
    id: number | undefined,
    ns: string | undefined,
  ) => {
    const name = id === undefined ? undefined : ids?.get(id);
    return ns === undefined || name === undefined || name === ns;
  };
  const paired =
    (a.namespace ?? "") === (b.namespace ?? "")
      ? seenA.link === b.name && seenB.link === a.name
      : seenA.link_index !== undefined &&
        seenA.link_index === seenB.ifindex &&
        seenB.link_index === seenA.ifindex &&
        seenA.link_netnsid !== undefined &&
        seenB.link_netnsid !== undefined &&
        named(idsOfA, seenA.link_netnsid, b.namespace) &&
        named(idsOfB, seenB.link_netnsid, a.namespace);
  if (paired) return undefined;
  return `veths "${a.name}" and "${b.name}" already exist but are not each other's peer ("${a.name}"'s peer is ${peerOf(seenA)}, "${b.name}"'s is ${peerOf(seenB)})`;
}

/**
 * Why the two ends of an existing pair cannot be taken over as one: one
 * carries a mark of ours the other does not (another resource's, or none).
 * Both unmarked, or both the same mark: undefined. Pure.
 */
export function vethMarkProblem(
  a: Pick<VethEnd, "name">,
  seenA: LinkState,
  b: Pick<VethEnd, "name">,
  seenB: LinkState,
): string | undefined {
  const markA = isMark(seenA.ifalias) ? seenA.ifalias : undefined;
  const markB = isMark(seenB.ifalias) ? seenB.ifalias : undefined;
  if (markA === markB) return undefined;
  const say = (m: string | undefined) => m ?? "no mark";
  return `the ends of veth pair "${a.name}"/"${b.name}" carry different marks ("${a.name}": ${say(markA)}, "${b.name}": ${say(markB)})`;
}

/** The VethPair kind: its inputs as declared, and its lifecycle. */
export const vethKind = declareKind<VethInputs, VethOutputs>({
  name: "VethPair",
  fields: {
    connection: connection("replace-on-host"),
    a: end("a"),
    b: { ...end("b"), rule: endsApart },
    mtu: { type: checked(mtuProblem), change: "update" },
    adopt: adoptField(),
  },
  // A replacement in which either end keeps its name must delete the old pair first.
  snapshotRead: true,
  deleteBeforeReplace: { keeps: ["a.name", "b.name"], unknown: ["a", "b"] },

  idOf: ({ a, b }) => `${linkId(a.namespace, a.name)}~${linkId(b.namespace, b.name)}`,

  async create(host, inputs) {
    const { a, b } = inputs;
    return transactional(async (undo) => {
      // An end with addresses comes up last: its gratuitous ARP then finds its peer up and on its bridge.
      const order = a.addresses.length > 0 || b.addresses.length === 0 ? [b, a] : [a, b];
      // One round trip: the pair, both ends marked, each end's announcement and settings, and both read back.
      const mark = markFor(inputs, "VethPair");
      const steps = [
        planVethAdd(inputs),
        planLinkMark(a.namespace, a.name, mark),
        planLinkMark(b.namespace, b.name, mark),
        ...order.flatMap((end) => [
          planArpNotify(end.namespace, end.name),
          ...planLinkChanges(end.namespace, end.name, FRESH_LINK, endSettings(end, undefined)),
        ]),
        linkDetailsArgv(a.namespace, a.name),
        linkDetailsArgv(b.namespace, b.name),
      ];
      const results = await host.runSteps(steps);
      // Deleting one end deletes the pair.
      if (results[0]?.exitCode === 0) undo(() => deleteLink(host, a.namespace, a.name));
      await throwIfStepFailed(host, steps, results, async (index, stderr) => {
        if (index !== 0 || !/File exists/.test(stderr)) return undefined;
        // Either end's name may be the one taken. Only a whole pair is taken over: both ends
        // veths, each other's peer, and with one ownership (both our mark, or both unmarked).
        const [seenA, seenB] = await Promise.all([seeEnd(host, a), seeEnd(host, b)]);
        const other = [seenA, seenB].find((s) => s && s.linkinfo?.info_kind !== "veth");
        if (other) {
          return `${stderr.trim()}: "${other.ifname}" already exists and is not a veth (it is a ${other.linkinfo?.info_kind ?? "plain"} link)`;
        }
        // Both gone meanwhile: the add's own error says it.
        if (!seenA && !seenB) return undefined;
        if (!seenA || !seenB) {
          const [there, gone] = seenA ? [a, b] : [b, a];
          return `${stderr.trim()}: veth "${there.name}" already exists without "${gone.name}" as its peer; not taken over`;
        }
        const [idsA, idsB] = await Promise.all([
          nsidNames(host, a.namespace),
          nsidNames(host, b.namespace),
        ]);
        const problem =
          vethPeerProblem(a, seenA, b, seenB, idsA, idsB) ?? vethMarkProblem(a, seenA, b, seenB);
        if (problem) return `${stderr.trim()}: ${problem}; not taken over`;
        const r = results[0]!;
        throw new ExistsError(
          host.name,
          steps[0]!,
          r.exitCode,
          r.stdout,
          r.stderr,
          `veth pair "${a.name}"/"${b.name}"`,
          seenA.ifalias,
        );
      });
      const readBack = results.slice(-2).map((r) => parseLinkDetails(r.stdout));
      assertReadBack(host, readBack[0], "veth", `end a "${a.name}"`);
      assertReadBack(host, readBack[1], "veth", `end b "${b.name}"`);
      return inputs;
    });
  },

  async mark(host, inputs, mark) {
    await host.runOk(planLinkMark(inputs.a.namespace, inputs.a.name, mark));
    await host.runOk(planLinkMark(inputs.b.namespace, inputs.b.name, mark));
  },

  async read(reader, _id, props) {
    const seenA = await readLink(reader, props.a.namespace, props.a.name, "veth");
    const seenB = await readLink(reader, props.b.namespace, props.b.name, "veth");
    // Either end gone means the cable is gone: the kernel never keeps half a pair.
    if (!seenA || !seenB) return undefined;
    const view = (seen: LinkFacts, end: VethEnd): VethEnd => {
      const v = managedView(seen, endSettings(end, props.mtu));
      return { ...end, addresses: [...v.addresses], up: v.up, bridge: v.bridge };
    };
    return {
      ...props,
      a: view(seenA, props.a),
      b: view(seenB, props.b),
      mtu: props.mtu === undefined ? undefined : seenA.mtu,
    };
  },

  async update(host, _id, olds, news) {
    const mtuChanged = news.mtu !== undefined && news.mtu !== olds.mtu;
    for (const key of ["a", "b"] as const) {
      const have = endSettings(olds[key], olds.mtu);
      const want = endSettings(news[key], mtuChanged ? news.mtu : olds.mtu);
      await updateLink(host, news[key].namespace, news[key].name, have, want);
    }
    return news;
  },

  async delete(host, _id, props) {
    // Either end takes the pair with it; the first may already be gone with its namespace.
    await deleteLink(host, props.a.namespace, props.a.name);
    await deleteLink(host, props.b.namespace, props.b.name);
  },
});

/**
 * One end of a {@link VethPair}: where it lives and what it is connected to.
 *
 * @example
 * ```ts
 * a: { name: "veth-blue", namespace: blue.name, addresses: ["10.0.0.1/24"] }, // in a namespace
 * b: { name: "veth-blue-br", bridge: br.name }, // on the host, a port of br
 * ```
 */
export interface VethEndArgs {
  /**
   * The end's interface name (at most 15 bytes, the kernel's limit; letters,
   * digits, `_`, `.`, `-`): `"veth-blue"`. When omitted,
   * `<resource name>-<5 random hex digits>` cut to fit, then `a` or `b`,
   * kept across updates. Changing it replaces the pair; a replacement in
   * which either end keeps its name deletes the old pair first (the kernel
   * holds a name once).
   */
  name?: pulumi.Input<string>;
  /**
   * Its namespace: `blue.name`. An end with no namespace stays on the host.
   * Changing it replaces the pair, which is created with each end straight
   * in its namespace.
   */
  namespace?: pulumi.Input<string>;
  /**
   * A bridge in the same namespace (the kernel requires it) that this end
   * joins as a port: `br.name`. None when omitted. Updates in place
   * (`ip link set master` / `nomaster`).
   */
  bridge?: pulumi.Input<string>;
  /**
   * Addresses on this end, in CIDR form, IPv4 or IPv6: `["10.0.0.1/24"]`.
   * None when omitted (a bridge port usually has none). Updates in place:
   * only the added and removed addresses change.
   */
  addresses?: pulumi.Input<pulumi.Input<string>[]>;
  /** Administratively up; true when omitted. Updates in place: `false` pulls the cable. */
  up?: pulumi.Input<boolean>;
}

/** Arguments of a {@link VethPair}. */
export interface VethPairArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the pair; any other change updates in place
   * (see {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * One end, required: `{ name: "veth-blue", namespace: blue.name, addresses: ["10.0.0.1/24"] }`.
   * A changed `name` or `namespace` replaces the pair; `bridge`,
   * `addresses` and `up` update in place.
   */
  a: pulumi.Input<VethEndArgs>;
  /**
   * The other end, required: `{ name: "veth-blue-br", bridge: br.name }`.
   * Its name must differ from `a`'s when both are in one namespace. Changes
   * behave as for `a`.
   */
  b: pulumi.Input<VethEndArgs>;
  /**
   * MTU of both ends (a pair should agree on it), 68 to 65535: `1450`. The
   * kernel's choice when omitted (and then never reported as drift). Updates
   * in place; removing it leaves the MTU as it is.
   */
  mtu?: pulumi.Input<number>;
  /**
   * Take over a veth pair of these names that exists already and carries no
   * mark of ours: the two ends must be each other's peer, neither marked,
   * and each in the namespace given; addresses, bridge, up and MTU are
   * converged, then both ends are marked as adopted by this resource (their
   * alias). Deleting the resource then deletes the pair; give the
   * `retainOnDelete` resource option to keep it. A link of another kind, an
   * end of another pair, or one marked by another resource, is refused
   * either way. False when omitted; turning it on or off later changes nothing.
   */
  adopt?: pulumi.Input<boolean>;
}

/**
 * A veth pair: a virtual patch cable between two namespaces, or a namespace and a bridge.
 * Equivalent to: `ip link add A netns NSA type veth peer name B netns NSB`, then addresses, ports and up.
 */
export class VethPair extends LinuxnetResource {
  /** End a as recorded: its concrete name, namespace, bridge, addresses and state. */
  declare readonly a: pulumi.Output<VethEnd>;
  /** End b as recorded: its concrete name, namespace, bridge, addresses and state. */
  declare readonly b: pulumi.Output<VethEnd>;
  /** The MTU of end a as last read, when `mtu` was given; undefined otherwise. */
  declare readonly mtu: pulumi.Output<number | undefined>;
  /** The concrete name of end a. */
  readonly aName: pulumi.Output<string>;
  /** The concrete name of end b. */
  readonly bName: pulumi.Output<string>;
  /**
   * @param name - The resource's name in the stack; the prefix of generated end names.
   * @param args - The two ends, and optionally the MTU.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: VethPairArgs, opts?: pulumi.CustomResourceOptions) {
    super(vethKind, name, args, opts);
    this.aName = this.a.apply((end) => end.name);
    this.bName = this.b.apply((end) => end.name);
  }
}
