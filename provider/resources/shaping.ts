/**
 * LinkShaping: shape or impair the traffic leaving one interface (in a
 * namespace or on the host): a rate, and netem's delay, jitter, loss,
 * duplication and reordering.
 *
 * One root qdisc does it all, so that every change is one atomic
 * `tc qdisc replace` and a read is one entry of `tc -json qdisc show`:
 * - only `rate`: a `tbf` (token bucket) root, which needs only sch_tbf;
 * - any netem value: a `netem` root, which shapes the rate too with its own
 *   `rate` option when one is given. Not a tbf child under netem: two qdiscs
 *   are two commands, with a moment (or, on failure, a state) where only one
 *   of them applies, and netem's rate emulates a link's serialisation exactly
 *   (no burst), which is what someone impairing a link wants.
 *
 * Ownership: our qdisc has a handle of ours, {@link TBF_HANDLE} or
 * {@link NETEM_HANDLE}, one per kind (the kernel cannot change a qdisc's kind
 * in place, but it can replace one root by another of a new handle in one
 * request). An interface whose root qdisc is not the kernel's default (handle
 * `0:`) is someone else's shaping: create refuses it rather than replace it,
 * and delete never removes it.
 */

import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import type { Host } from "../transport";
import { CommandError } from "../errors";
import { type QdiscEntry, liveReader } from "../host/reader";
import { LinuxnetResource } from "./program";
import { type BaseInputs, transactional } from "./kind";
import { type FieldType, checked, connection, declareKind } from "./declare";
import { interfaceNameProblem, isUnknown, namespaceNameProblem, shown } from "./validate";

/** Inputs of a LinkShaping, as the provider sees them (normalised by check). */
export interface ShapingInputs extends BaseInputs {
  /** The namespace of the interface; the host's own when unset. */
  readonly namespace?: string;
  /** The interface whose outgoing traffic is shaped. */
  readonly device: string;
  /** The rate, normalised: `"10mbit"`. */
  readonly rate?: string;
  /** netem's delay, normalised: `"40ms"`, `"500us"`, `"1s"`. */
  readonly delay?: string;
  /** netem's jitter around the delay, normalised as `delay`. */
  readonly jitter?: string;
  /** Percent of packets dropped, 0 to 100. */
  readonly loss?: number;
  /** Percent of packets sent twice, 0 to 100. */
  readonly duplicate?: number;
  /** Percent of packets sent at once, ahead of the delayed ones, 0 to 100. */
  readonly reorder?: number;
}

/** Outputs of a LinkShaping. */
export interface ShapingOutputs extends ShapingInputs {
  /** The root qdisc made: `tbf` or `netem`. */
  readonly qdisc: string;
  /** The root qdisc the interface had before (the kernel's default: `noqueue`, `pfifo_fast`...). */
  readonly qdiscBefore: string;
}

/** The handle of our tbf root: marks it as ours. */
export const TBF_HANDLE = "4c54:";
/** The handle of our netem root: marks it as ours. */
export const NETEM_HANDLE = "4c4e:";

/** The values that need netem (and so the kernel module sch_netem). */
export const NETEM_FIELDS = ["delay", "jitter", "loss", "duplicate", "reorder"] as const;
/** Every shaping value; at least one is required. */
export const VALUE_FIELDS = ["rate", ...NETEM_FIELDS] as const;

// -- units ------------------------------------------------------------------------------

/** Bits per second of each rate unit, as tc(8) reads them (`bps` is BYTES per second). */
const RATE_UNITS: Readonly<Record<string, number>> = {
  bit: 1,
  kbit: 1e3,
  mbit: 1e6,
  gbit: 1e9,
  tbit: 1e12,
  kibit: 1024,
  mibit: 1024 ** 2,
  gibit: 1024 ** 3,
  tibit: 1024 ** 4,
  bps: 8,
  kbps: 8e3,
  mbps: 8e6,
  gbps: 8e9,
  tbps: 8e12,
};

/** The largest rate: 10tbit (u64 bytes per second in the kernel; far beyond any link). */
const MAX_RATE_BITS = 1e13;

/** Microseconds of each time unit. */
const TIME_UNITS: Readonly<Record<string, number>> = {
  us: 1,
  usec: 1,
  ms: 1e3,
  msec: 1e3,
  s: 1e6,
  sec: 1e6,
};

/** The longest delay or jitter netem is given here: one hour. */
const MAX_TIME_US = 3600e6;

/**
 * A rate in bits per second from `"10mbit"`, `"1.5gbit"`, `"500kbit"`,
 * `"125kbps"` (bytes); or why not. A unit is required: a bare number means
 * bits to tc but bytes to many readers. A whole number of bytes per second,
 * because that is what the kernel keeps.
 */
export function parseRate(value: unknown): number | string {
  const rule = `must be a rate with a unit, like "10mbit", "500kbit" or "1gbit" (bit, kbit, mbit, gbit, tbit; kibit...; bps, kbps, mbps are bytes per second)`;
  if (typeof value !== "string") return `${rule}, got ${shown(value)}`;
  const m = /^([0-9]+(?:\.[0-9]+)?)([a-z]+)$/i.exec(value.trim());
  if (value.trim().startsWith("-")) return `must not be negative, got ${JSON.stringify(value)}`;
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === undefined || !Object.hasOwn(RATE_UNITS, unit)) {
    return `${rule}, got ${JSON.stringify(value)}`;
  }
  const bits = Math.round(Number(m[1]) * RATE_UNITS[unit]!);
  if (bits <= 0) return `must be more than 0, got ${JSON.stringify(value)}`;
  if (bits > MAX_RATE_BITS) return `must be at most 10tbit, got ${JSON.stringify(value)}`;
  if (bits % 8 !== 0) {
    return `must be a whole number of bytes per second (a multiple of 8bit), got ${JSON.stringify(value)}`;
  }
  return bits;
}

/** A rate in its shortest exact spelling: 10000000 → `"10mbit"`, 1500000 → `"1500kbit"`. */
export function formatRate(bits: number): string {
  for (const [unit, size] of [
    ["tbit", 1e12],
    ["gbit", 1e9],
    ["mbit", 1e6],
    ["kbit", 1e3],
  ] as const) {
    if (bits % size === 0) return `${bits / size}${unit}`;
  }
  return `${bits}bit`;
}

/** A time in microseconds from `"40ms"`, `"1s"`, `"500us"`, `"1.5ms"`; or why not. */
export function parseTime(value: unknown): number | string {
  const rule = `must be a time with a unit, like "40ms", "1s" or "500us" (us, ms, s)`;
  if (typeof value !== "string") return `${rule}, got ${shown(value)}`;
  if (value.trim().startsWith("-")) return `must not be negative, got ${JSON.stringify(value)}`;
  const m = /^([0-9]+(?:\.[0-9]+)?)([a-z]+)$/i.exec(value.trim());
  const unit = m?.[2]?.toLowerCase();
  if (!m || unit === undefined || !Object.hasOwn(TIME_UNITS, unit)) {
    return `${rule}, got ${JSON.stringify(value)}`;
  }
  const exact = Number(m[1]) * TIME_UNITS[unit]!;
  const us = Math.round(exact);
  if (Math.abs(exact - us) > 1e-6) {
    return `must be a whole number of microseconds, got ${JSON.stringify(value)}`;
  }
  if (us > MAX_TIME_US) return `must be at most 1 hour, got ${JSON.stringify(value)}`;
  return us;
}

/** A time in its shortest exact spelling: 40000 → `"40ms"`, 1000000 → `"1s"`, 1500 → `"1500us"`. */
export function formatTime(us: number): string {
  if (us !== 0 && us % 1e6 === 0) return `${us / 1e6}s`;
  if (us % 1e3 === 0) return `${us / 1e3}ms`;
  return `${us}us`;
}

/** A percentage 0 to 100, kept to 6 significant digits (what `tc -json` prints back). */
export function parsePercent(value: unknown): number | string {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > 100) {
    return `must be a percentage from 0 to 100 (0.5 is 0.5%), got ${shown(value)}`;
  }
  return roundPercent(value);
}

function roundPercent(value: number): number {
  return Number(value.toPrecision(6));
}

// -- check ------------------------------------------------------------------------------

/** A field type from a parser and a formatter: the value normalised, or a failure naming the field. */
function unitValue(
  parse: (value: unknown) => number | string,
  format: (n: number) => string | number,
): FieldType {
  return {
    check(value, ctx) {
      if (value === undefined || value === null || isUnknown(value)) return undefined;
      const parsed = parse(value);
      if (typeof parsed === "string") {
        ctx.checker.fail(ctx.path, parsed);
        return undefined;
      }
      return format(parsed);
    },
  };
}

const rate = unitValue(parseRate, formatRate);
const time = unitValue(parseTime, formatTime);
const percent = unitValue(parsePercent, (n) => n);

const isSet = (v: unknown) => v !== undefined && v !== null;

// -- plans ------------------------------------------------------------------------------

/** tbf's bucket: 10 ms of traffic at the rate, and never less than 8 KiB (a few full frames). */
export function tbfBurst(rateBits: number): number {
  return Math.max(8192, Math.ceil(rateBits / 8 / 100));
}

/** tbf's queue: packets wait at most this long for tokens before they are dropped. */
export const TBF_LATENCY = "50ms";

/** The root qdisc the inputs need: `tbf` for a rate alone, else `netem`. */
export function qdiscKind(s: ShapingInputs): "tbf" | "netem" {
  return NETEM_FIELDS.some((f) => isSet(s[f])) ? "netem" : "tbf";
}

const pct = (n: number) => `${n}%`;

/** The qdisc's kind and its arguments, as tc takes them after `root handle H`. */
export function qdiscArgs(s: ShapingInputs): string[] {
  if (qdiscKind(s) === "tbf") {
    const bits = parseRate(s.rate) as number;
    return ["tbf", "rate", s.rate!, "burst", String(tbfBurst(bits)), "latency", TBF_LATENCY];
  }
  return [
    "netem",
    ...(isSet(s.delay) ? ["delay", s.delay!, ...(isSet(s.jitter) ? [s.jitter!] : [])] : []),
    ...(isSet(s.loss) ? ["loss", pct(s.loss!)] : []),
    ...(isSet(s.duplicate) ? ["duplicate", pct(s.duplicate!)] : []),
    ...(isSet(s.reorder) ? ["reorder", pct(s.reorder!)] : []),
    ...(isSet(s.rate) ? ["rate", s.rate!] : []),
  ];
}

function handleOf(kind: "tbf" | "netem"): string {
  return kind === "tbf" ? TBF_HANDLE : NETEM_HANDLE;
}

function tcArgv(namespace: string | undefined, ...args: string[]): string[] {
  return ["tc", ...(namespace ? ["-n", namespace] : []), ...args];
}

/**
 * Adds our root qdisc; fails when the interface has a root of someone else's.
 * Equivalent to: `tc [-n NS] qdisc add dev DEV root handle H KIND ARGS...`
 */
export function planShapingAdd(s: ShapingInputs): string[] {
  return tcArgv(s.namespace, "qdisc", "add", "dev", s.device, "root", ...handleArgs(s));
}

/**
 * Changes our root qdisc in place (same kind), or puts the other kind in its
 * place in the same request (a new handle: the kernel cannot change a kind).
 * Equivalent to: `tc [-n NS] qdisc replace dev DEV root handle H KIND ARGS...`
 */
export function planShapingReplace(s: ShapingInputs): string[] {
  return tcArgv(s.namespace, "qdisc", "replace", "dev", s.device, "root", ...handleArgs(s));
}

/**
 * Removes the root qdisc; the kernel attaches its default again.
 * Equivalent to: `tc [-n NS] qdisc del dev DEV root`
 */
export function planShapingDelete(s: Pick<ShapingInputs, "namespace" | "device">): string[] {
  return tcArgv(s.namespace, "qdisc", "del", "dev", s.device, "root");
}

function handleArgs(s: ShapingInputs): string[] {
  return ["handle", handleOf(qdiscKind(s)), ...qdiscArgs(s)];
}

// -- parse ------------------------------------------------------------------------------

/** The interface's root qdisc in `tc -json qdisc show dev DEV` output. Pure. */
export function rootQdisc(qdiscs: readonly QdiscEntry[]): QdiscEntry | undefined {
  return qdiscs.find((q) => q.root === true);
}

/** True for a root the kernel attached by itself (handle `0:`): nobody's shaping. */
export function isDefaultQdisc(q: QdiscEntry | undefined): boolean {
  return q === undefined || q.handle === "0:";
}

/** True for a root qdisc of ours (by its handle and kind). */
export function isOurs(q: QdiscEntry | undefined): boolean {
  return (
    (q?.kind === "tbf" && q.handle === TBF_HANDLE) ||
    (q?.kind === "netem" && q.handle === NETEM_HANDLE)
  );
}

type ShapingValues = Pick<ShapingInputs, (typeof VALUE_FIELDS)[number]>;

const num = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null ? (v as Record<string, unknown>) : undefined;

/**
 * The shaping values a root qdisc of ours carries, as tc prints them:
 * tbf's `rate` in bytes per second; netem's `delay` object (`delay`,
 * `jitter` in seconds), `loss-random`, `duplicate`, `reorder` (fractions of 1)
 * and `rate` object (bytes per second). Pure. A value netem holds as zero is unset.
 */
export function parseShaping(q: QdiscEntry): ShapingValues {
  const o = q.options ?? {};
  if (q.kind === "tbf") {
    const bytes = num(o.rate);
    return bytes ? { rate: formatRate(bytes * 8) } : {};
  }
  const delay = obj(o.delay);
  const seconds = (v: unknown) => formatTime(Math.round((num(v) ?? 0) * 1e6));
  const fraction = (name: string) => {
    const f = num(obj(o[name === "loss" ? "loss-random" : name])?.[name]);
    return f ? roundPercent(f * 100) : undefined;
  };
  const rateBytes = num(obj(o.rate)?.rate);
  const out: Record<string, unknown> = {
    rate: rateBytes ? formatRate(rateBytes * 8) : undefined,
    delay: num(delay?.delay) ? seconds(delay?.delay) : undefined,
    jitter: num(delay?.jitter) ? seconds(delay?.jitter) : undefined,
    loss: fraction("loss"),
    duplicate: fraction("duplicate"),
    reorder: fraction("reorder"),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** Two readings of one value are the same when within what tc's printing rounds away. */
function close(recorded: unknown, seen: unknown): boolean {
  if (recorded === seen) return true;
  const a = typeof recorded === "number" ? recorded : parseTime(recorded);
  const b = typeof seen === "number" ? seen : parseTime(seen);
  if (typeof a !== "number" || typeof b !== "number") return false;
  return Math.abs(a - b) <= Math.max(Math.abs(a), Math.abs(b)) * 1e-5;
}

/**
 * The props a read reports: the recorded ones, with each value as the host
 * has it (kept as recorded where tc printed it rounded, and a zero netem
 * holds for a value given as zero). Pure.
 */
export function readProps(props: ShapingOutputs, q: QdiscEntry): ShapingOutputs {
  const seen = parseShaping(q);
  const out: Record<string, unknown> = { ...props, qdisc: q.kind };
  for (const field of VALUE_FIELDS) {
    const recorded = props[field];
    const now = seen[field];
    const zero = recorded === 0 || recorded === "0ms";
    if (now === undefined) out[field] = zero ? recorded : undefined;
    else out[field] = close(recorded, now) ? recorded : now;
  }
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined)) as never;
}

// -- lifecycle --------------------------------------------------------------------------

/** The error for a qdisc kind the kernel does not have, naming the module and the values that need it. */
export function missingModuleMessage(host: string, s: ShapingInputs, stderr: string): string {
  const kind = qdiscKind(s);
  const needs = (kind === "netem" ? VALUE_FIELDS : (["rate"] as const)).filter((f) => isSet(s[f]));
  return (
    `on ${host}: ${needs.join(", ")} on ${s.device} need${needs.length === 1 ? "s" : ""} the ` +
    `kernel module sch_${kind}, which this host's kernel does not have (tc: ${stderr.trim()}); ` +
    `nothing was changed`
  );
}

const UNKNOWN_KIND = /Specified qdisc kind is unknown|Unknown qdisc|qdisc kind is unknown/;

/** The interface's qdiscs, asked of the host; throws when the interface (or namespace) is not there. */
async function qdiscsOf(host: Host, s: ShapingInputs): Promise<QdiscEntry[]> {
  const found = await liveReader(host).qdiscs(s.namespace, s.device);
  if (!found) {
    throw new Error(
      `on ${host.name}: cannot shape ${s.device}${s.namespace ? ` in namespace ${s.namespace}` : ""}: it is not there`,
    );
  }
  return found;
}

/** Refuses an interface whose root qdisc is someone else's shaping. */
function refuseForeign(host: Host, s: ShapingInputs, root: QdiscEntry | undefined): void {
  if (isDefaultQdisc(root) || (root && isOurs(root))) return;
  throw new Error(
    `on ${host.name}: ${s.device} already has a root qdisc that this resource did not make ` +
      `(${root!.kind} ${root!.handle}); LinkShaping does not replace someone else's shaping: ` +
      `remove it first (${planShapingDelete(s).join(" ")})`,
  );
}

/** Runs an add or replace, turning "unknown qdisc kind" into the missing module's name. */
async function applyQdisc(host: Host, s: ShapingInputs, argv: string[]): Promise<void> {
  const r = await host.run(argv);
  if (r.exitCode === 0) return;
  if (UNKNOWN_KIND.test(r.stderr)) throw new Error(missingModuleMessage(host.name, s, r.stderr));
  throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
}

/** Reads our qdisc back and checks that it carries the values asked for. */
async function verify(host: Host, s: ShapingInputs, before: string): Promise<ShapingOutputs> {
  const root = rootQdisc(await qdiscsOf(host, s));
  const wanted: ShapingOutputs = { ...s, qdisc: qdiscKind(s), qdiscBefore: before };
  if (!root || !isOurs(root)) {
    throw new Error(`on ${host.name}: the ${qdiscKind(s)} qdisc on ${s.device} does not read back`);
  }
  const seen = readProps(wanted, root);
  const differs = VALUE_FIELDS.filter((f) => seen[f] !== wanted[f]);
  if (differs.length > 0 || seen.qdisc !== wanted.qdisc) {
    throw new Error(
      `on ${host.name}: ${s.device}'s qdisc reads back other values than were set: ` +
        differs.map((f) => `${f} ${String(seen[f])} (asked ${String(wanted[f])})`).join(", "),
    );
  }
  return wanted;
}

/** The LinkShaping kind: its inputs as declared, and its lifecycle. */
export const shapingKind = declareKind<ShapingInputs, ShapingOutputs>({
  name: "LinkShaping",
  fields: {
    connection: connection("replace-on-host"),
    namespace: { type: checked(namespaceNameProblem), change: "replace" },
    device: {
      type: {
        check(value, ctx) {
          if (value === undefined || value === null) {
            ctx.checker.fail(ctx.path, `is required: the interface to shape, like "veth-blue"`);
          } else if (!isUnknown(value)) {
            const why = interfaceNameProblem(value);
            if (why) ctx.checker.fail(ctx.path, why);
          }
          return undefined;
        },
      },
      change: "replace",
    },
    rate: { type: rate, change: "update" },
    delay: { type: time, change: "update" },
    jitter: {
      type: time,
      change: "update",
      rule(out, c) {
        if (isSet(out.jitter) && !isSet(out.delay)) {
          c.fail("jitter", "needs delay: jitter varies the delay around its value");
        }
      },
    },
    loss: { type: percent, change: "update" },
    duplicate: { type: percent, change: "update" },
    reorder: {
      type: percent,
      change: "update",
      rule(out, c) {
        if (isSet(out.reorder) && !isSet(out.delay)) {
          c.fail("reorder", "needs delay: netem reorders by sending some packets without it");
        }
        if (!VALUE_FIELDS.some((f) => isSet(out[f]))) {
          c.fail(
            "rate",
            `or another value is required: give at least one of ${VALUE_FIELDS.join(", ")}`,
          );
        }
      },
    },
  },
  outputs: ["qdisc", "qdiscBefore"],
  // The kernel has one root qdisc per interface: the old one must go first.
  deleteBeforeReplace: true,
  // A refresh asks tc per resource (the host snapshot holds no qdiscs).
  snapshotRead: false,

  idOf: (s) => `${s.namespace ?? ""}/${s.device}`,

  async create(host, inputs) {
    return transactional(async (undo) => {
      const root = rootQdisc(await qdiscsOf(host, inputs));
      if (isOurs(root)) {
        throw new Error(
          `on ${host.name}: ${inputs.device} is already shaped by another LinkShaping ` +
            `(${root!.kind} ${root!.handle}); an interface takes one`,
        );
      }
      refuseForeign(host, inputs, root);
      // One netlink request: a kernel without the qdisc kind refuses it before touching the interface.
      await applyQdisc(host, inputs, planShapingAdd(inputs));
      undo(() => host.run(planShapingDelete(inputs)));
      return verify(host, inputs, root?.kind ?? "none");
    });
  },

  async read(reader, _id, props) {
    const qdiscs = await reader.qdiscs(props.namespace, props.device);
    const root = qdiscs && rootQdisc(qdiscs);
    // Deleted, or replaced by someone else's: ours is gone, and an up recreates it (or says whose it is).
    if (!root || !isOurs(root)) return undefined;
    return readProps(props, root);
  },

  async update(host, _id, olds, news) {
    const root = rootQdisc(await qdiscsOf(host, news));
    refuseForeign(host, news, root);
    await applyQdisc(host, news, planShapingReplace(news));
    return verify(host, news, olds.qdiscBefore ?? root?.kind ?? "none");
  },

  async delete(host, _id, props) {
    const qdiscs = await liveReader(host).qdiscs(props.namespace, props.device);
    // Gone with its interface or namespace, or already back to the default: success.
    // A root of someone else's is not ours to remove.
    if (!qdiscs || !isOurs(rootQdisc(qdiscs))) return;
    const argv = planShapingDelete(props);
    const r = await host.run(argv);
    if (
      r.exitCode !== 0 &&
      !/Cannot find device|Cannot delete qdisc with handle of zero/.test(r.stderr)
    ) {
      throw new CommandError(host.name, argv, r.exitCode, r.stdout, r.stderr);
    }
  },
});

/**
 * Arguments of a {@link LinkShaping}. Give at least one value. With `rate`
 * alone the interface gets a `tbf` root qdisc (kernel module sch_tbf); with
 * any netem value (`delay`, `jitter`, `loss`, `duplicate`, `reorder`) a
 * `netem` root (sch_netem), which then applies `rate` too. Values update in
 * place with `tc qdisc replace`; `device` and `namespace` replace.
 */
export interface LinkShapingArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the shaping; any other change updates in place (see
   * {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The namespace of the interface: `blue.name`. The host's own when omitted.
   * Changing it replaces the shaping.
   */
  namespace?: pulumi.Input<string>;
  /**
   * The interface whose outgoing traffic is shaped: `"veth-blue"`. Required.
   * Its root qdisc must be the kernel's default: an interface already shaped
   * by someone else is refused, never taken over. Changing it replaces the shaping.
   */
  device: pulumi.Input<string>;
  /**
   * The rate, with a unit as tc(8) reads it: `"10mbit"`, `"500kbit"`,
   * `"1gbit"` (`kibit`... are powers of 1024; `bps`, `kbps`, `mbps` are BYTES
   * per second). More than 0, at most 10tbit, a whole number of bytes per
   * second; stored in its shortest spelling (`"1000kbit"` is `"1mbit"`). Alone,
   * a tbf with a burst of 10 ms of traffic (at least 8 KiB) and a queue of
   * 50 ms; with netem values, netem's own rate. None when omitted. Updates in place.
   */
  rate?: pulumi.Input<string>;
  /**
   * Delay added to every packet: `"40ms"`, `"500us"`, `"1s"` (us, ms, s; at
   * most an hour). None when omitted. Needs sch_netem. Updates in place.
   */
  delay?: pulumi.Input<string>;
  /** Random variation of the delay, as `delay`: `"5ms"`. Needs `delay`. Updates in place. */
  jitter?: pulumi.Input<string>;
  /** Percent of packets dropped at random, 0 to 100: `0.5` is 0.5%. Needs sch_netem. Updates in place. */
  loss?: pulumi.Input<number>;
  /** Percent of packets sent twice, 0 to 100. Needs sch_netem. Updates in place. */
  duplicate?: pulumi.Input<number>;
  /**
   * Percent of packets sent at once instead of delayed, so they overtake the
   * others, 0 to 100. Needs `delay`. Updates in place.
   */
  reorder?: pulumi.Input<number>;
}

/**
 * Shaping or impairment of the traffic leaving one interface: a rate (tbf)
 * and/or netem's delay, jitter, loss, duplication and reordering. Delete puts
 * the kernel's default qdisc back. When the host's kernel lacks the module a
 * value needs, create fails naming the module and the values, and changes nothing.
 * Equivalent to: `tc [-n NS] qdisc add dev DEV root tbf rate R burst B latency 50ms`
 * or `tc [-n NS] qdisc add dev DEV root netem delay D [J] loss L% ... [rate R]`
 *
 * @example
 * ```ts
 * // A slow uplink for ns-blue (tbf), and a lossy, distant one (netem, needs sch_netem).
 * new linuxnet.LinkShaping("blue-uplink", { connection, namespace: blue.name, device: "veth-blue", rate: "10mbit" });
 * new linuxnet.LinkShaping("wan", { connection, device: "veth-green-br", delay: "40ms", jitter: "5ms", loss: 0.5 });
 * ```
 */
export class LinkShaping extends LinuxnetResource {
  /** The namespace of the interface; undefined for the host's own. */
  declare readonly namespace: pulumi.Output<string | undefined>;
  /** The interface shaped. */
  declare readonly device: pulumi.Output<string>;
  /** The rate as last read, normalised (`"10mbit"`); undefined when none. */
  declare readonly rate: pulumi.Output<string | undefined>;
  /** The delay as last read, normalised (`"40ms"`); undefined when none. */
  declare readonly delay: pulumi.Output<string | undefined>;
  /** The jitter as last read; undefined when none. */
  declare readonly jitter: pulumi.Output<string | undefined>;
  /** The loss percentage as last read; undefined when none. */
  declare readonly loss: pulumi.Output<number | undefined>;
  /** The duplicate percentage as last read; undefined when none. */
  declare readonly duplicate: pulumi.Output<number | undefined>;
  /** The reorder percentage as last read; undefined when none. */
  declare readonly reorder: pulumi.Output<number | undefined>;
  /** The root qdisc made: `"tbf"` or `"netem"`. */
  declare readonly qdisc: pulumi.Output<string>;
  /** The interface's root qdisc before (the kernel's default, as `"noqueue"`). */
  declare readonly qdiscBefore: pulumi.Output<string>;
  /**
   * @param name - The resource's name in the stack.
   * @param args - The interface (`device`, `namespace`) and at least one value.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: LinkShapingArgs, opts?: pulumi.CustomResourceOptions) {
    super(shapingKind, name, args, opts);
  }
}
