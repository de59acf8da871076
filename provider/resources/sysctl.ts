/**
 * Sysctl: one kernel setting (a file under /proc/sys) in the host or in a
 * namespace, set while the resource exists and put back as it was found when
 * it goes.
 *
 * - Keys are written as `sysctl` prints them, dotted: `net.ipv4.conf.all.rp_filter`;
 *   an interface name with a dot is written with `/` there, as `sysctl` does
 *   (`net.ipv4.conf.eth0/100.rp_filter`). The slash form of the path under
 *   /proc/sys (`net/ipv4/conf/eth0.100/rp_filter`) is accepted too and
 *   normalised to the dotted one, so the two never differ. Every segment is
 *   checked: no empty one, no `.` or `..`, nothing but letters, digits, `_`,
 *   `-` (and `.` inside an interface name): the file is always under /proc/sys.
 * - Inside a namespace only `net.*` keys are accepted: the others (kernel.*,
 *   vm.*, ...) are not per network namespace, and would change the host.
 * - Values are strings, compared the way the kernel prints them: white space
 *   between words is one separator (multi-value keys print with tabs), and
 *   numbers compare as numbers (`"02"` is `"2"`).
 * - The value found before is recorded at create (`valueBefore`) and put back
 *   on delete. A claim under /run/linuxnet/sysctl says which Sysctl holds a
 *   key: a second Sysctl on the same key of the same namespace is refused at
 *   create, rather than the two putting back each other's values. Both
 *   spellings of forwarding share one claim. The claim is what delete trusts,
 *   and it does not outlive a reboot (nor does the setting): a Sysctl whose
 *   claim is gone reads as gone, so the next `up` creates it again and records
 *   the value found then; an update writes back a claim it finds missing.
 * - A replacement that keeps the setting (its namespace, and its key or the
 *   other spelling of forwarding), as a changed `connection.host` does, deletes
 *   the old first: the new one's create would otherwise find the old claim,
 *   or record the old one's value as the one to put back.
 * - `net.ipv4.ip_forward` (and `net.ipv4.conf.all.forwarding`, the same
 *   setting) is also what NatRule and PortForward turn on while they need it
 *   (forwarding.ts). A Sysctl there takes over the value those rules recorded
 *   (it becomes the value it puts back); one that would turn forwarding off
 *   under rules that need it is refused; and when it goes while such rules
 *   remain, it leaves forwarding on and hands the value to put back to the
 *   last of them.
 */

import * as pulumi from "@pulumi/pulumi";
import { randomBytes } from "node:crypto";
import type { ConnectionArgs } from "../transport/connection";
import type { Host } from "../transport";
import { CommandError } from "../errors";
import {
  readForwardingRecord,
  removeForwardingRecord,
  writeForwardingRecord,
} from "../host/forwarding";
import { inNamespace } from "../host/ip";
import { liveReader } from "../host/reader";
import {
  FORWARDING_KEYS,
  readSysctl,
  readSysctlClaim,
  removeSysctlClaim,
  sysctlClaimKey,
  sysctlClaimPath,
  sysctlFile,
  writeSysctl,
  writeSysctlClaim,
} from "../host/sysctl";
import { firewallFor } from "../firewall";
import { LinuxnetResource } from "./program";
import { withLock } from "./lock";
import { type BaseInputs, containsUnknown, sameValue, transactional } from "./kind";
import { type FieldType, checked, connection, declareKind } from "./declare";
import { forwardingLockKey, othersNeedForwarding } from "./forwarding";
import { interfaceNameProblem, isUnknown, namespaceNameProblem, shown } from "./validate";

/** Inputs of a Sysctl, as the provider sees them. */
export interface SysctlInputs extends BaseInputs {
  /** Where the setting is; the host itself when unset. */
  readonly namespace?: string;
  /** The key in its dotted form: `net.ipv4.conf.all.rp_filter`. */
  readonly key: string;
  /** The value to set, as given. */
  readonly value: string;
}

/** Outputs of a Sysctl. */
export interface SysctlOutputs extends SysctlInputs {
  /** The value found before create, as the kernel printed it: put back on delete. */
  readonly valueBefore: string;
}

/** The top-level directories of /proc/sys. */
const TOP_LEVEL = new Set([
  "abi",
  "crypto",
  "debug",
  "dev",
  "fs",
  "kernel",
  "net",
  "sunrpc",
  "user",
  "vm",
]);

/** A checked key: its dotted form and the segments of its path under /proc/sys. */
export interface SysctlKey {
  readonly key: string;
  readonly segments: readonly string[];
}

/** The longest key we take; /proc/sys paths are far shorter. */
const MAX_KEY_BYTES = 255;

/** Parses a key, dotted (`net.ipv4.ip_forward`) or slashed (`net/ipv4/ip_forward`); a string says what is wrong. */
export function parseSysctlKey(value: unknown): SysctlKey | string {
  if (typeof value !== "string")
    return `must be a string like "net.ipv4.ip_forward", got ${shown(value)}`;
  if (value.length === 0) return "must not be empty";
  if (Buffer.byteLength(value) > MAX_KEY_BYTES) return `must be at most ${MAX_KEY_BYTES} bytes`;
  if (value.startsWith("/proc/sys")) {
    return `must be a key like "net.ipv4.ip_forward", without "/proc/sys/", got ${JSON.stringify(value)}`;
  }
  // As sysctl(8): a key whose first separator is "/" is a path; otherwise "/" stands for a "." in a segment.
  const slashes =
    value.includes("/") && (!value.includes(".") || value.indexOf("/") < value.indexOf("."));
  const segments = slashes ? value.split("/") : value.split(".").map((s) => s.replaceAll("/", "."));
  if (segments.length < 2)
    return `must have at least two segments, like "net.ipv4.ip_forward", got ${JSON.stringify(value)}`;
  for (const [i, segment] of segments.entries()) {
    const at = `segment ${i + 1} (${JSON.stringify(segment)})`;
    if (segment.length === 0)
      return `must not have an empty segment (segment ${i + 1}), got ${JSON.stringify(value)}`;
    if (segment === "." || segment === "..")
      return `must not have a "." or ".." segment, got ${JSON.stringify(value)}`;
    const bad = /[^A-Za-z0-9_.-]/.exec(segment);
    if (bad)
      return `${at} must contain only letters, digits, "_", "-" (and "." in an interface name), not ${JSON.stringify(bad[0])}`;
    if (segment.startsWith("-")) return `${at} must not start with "-"`;
    if (segment.includes(".")) {
      // Only an interface name has a dot in it (net.ipv4.conf.eth0/100.rp_filter).
      const why = interfaceNameProblem(segment);
      if (why) return `${at} has a "." and so must be an interface name, which ${why}`;
    }
  }
  if (!TOP_LEVEL.has(segments[0]!)) {
    return `must start with one of ${[...TOP_LEVEL].join(", ")} (the directories of /proc/sys), got ${JSON.stringify(segments[0])}`;
  }
  return { key: segments.map((s) => s.replaceAll(".", "/")).join("."), segments };
}

/** The segments of a key already checked (the dotted form in state). */
function segmentsOf(key: string): string[] {
  const parsed = parseSysctlKey(key);
  if (typeof parsed === "string") throw new Error(`key ${JSON.stringify(key)}: ${parsed}`);
  return [...parsed.segments];
}

/** The longest value we take (a page, as the kernel's proc handlers do). */
const MAX_VALUE_BYTES = 4096;

/** Why `value` cannot be a setting's value, or undefined. */
export function sysctlValueProblem(value: unknown): string | undefined {
  if (typeof value !== "string")
    return `must be a string (values are strings: "1"), got ${shown(value)}`;
  if (value.trim().length === 0) return "must not be empty";
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) return `must be at most ${MAX_VALUE_BYTES} bytes`;
  // A newline would end the write early: the kernel takes the first line only.
  const bad = [...value].find((c) => c !== "\t" && (c < " " || c === "\u007f"));
  if (bad !== undefined)
    return `must be one line without control characters (tabs are fine), got U+${bad.codePointAt(0)!.toString(16).padStart(4, "0")}`;
  return undefined;
}

/**
 * True when two values are the same setting as the kernel prints them: white
 * space between words is one separator, and integers compare as numbers.
 */
export function sameSetting(a: string, b: string): boolean {
  const words = (v: string) =>
    v
      .trim()
      .split(/\s+/)
      .map((w) => (/^-?[0-9]+$/.test(w) ? BigInt(w).toString() : w));
  return JSON.stringify(words(a)) === JSON.stringify(words(b));
}

/** A key: checked, and normalised to its dotted form; required. */
const keyField: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) {
      ctx.checker.fail(ctx.path, `is required: a key like "net.ipv4.conf.all.rp_filter"`);
      return undefined;
    }
    if (isUnknown(value)) return undefined;
    const parsed = parseSysctlKey(value);
    if (typeof parsed === "string") {
      ctx.checker.fail(ctx.path, parsed);
      return undefined;
    }
    const ns = ctx.out.namespace;
    if (typeof ns === "string" && !isUnknown(ns) && parsed.segments[0] !== "net") {
      ctx.checker.fail(
        ctx.path,
        `must be a net.* key inside a namespace: ${JSON.stringify(parsed.segments[0])} settings are not per network namespace, and would change the host`,
      );
      return undefined;
    }
    return parsed.key;
  },
};

/** A value: a string; required. */
const valueField: FieldType = {
  check(value, ctx) {
    if (value === undefined || value === null) {
      ctx.checker.fail(ctx.path, `is required: the value as a string, like "1"`);
      return undefined;
    }
    if (isUnknown(value)) return undefined;
    const why = sysctlValueProblem(value);
    if (why) ctx.checker.fail(ctx.path, why);
    return undefined;
  },
};

/** Where, for messages: ` in ns-blue`, or ` on the host`. */
function where(namespace: string | undefined): string {
  return namespace ? ` in namespace ${namespace}` : " on the host";
}

/** Two changes of one key (or of forwarding) take turns within the provider process. */
function lockKey(host: string, namespace: string | undefined, key: string): string {
  return FORWARDING_KEYS.includes(key)
    ? forwardingLockKey(host, namespace)
    : `sysctl ${host} ${namespace ?? "@host"} ${key}`;
}

/** Reads a setting that must be there; a missing key or namespace throws, naming it. */
async function currentValue(
  host: Host,
  namespace: string | undefined,
  key: string,
): Promise<string> {
  const file = sysctlFile(segmentsOf(key));
  const found = await readSysctl(host, namespace, file);
  if ("value" in found) return found.value;
  if (found.absent === "key") {
    throw new Error(
      `on ${host.name}: the kernel has no setting ${key}${where(namespace)} (${file} does not exist)`,
    );
  }
  throw new CommandError(host.name, inNamespace(namespace, ["cat", file]), 1, "", found.stderr);
}

/** Writes a value and reads it back: the kernel may refuse it, or keep another. */
async function setValue(
  host: Host,
  namespace: string | undefined,
  key: string,
  value: string,
): Promise<void> {
  await writeSysctl(host, namespace, sysctlFile(segmentsOf(key)), value);
  const now = await currentValue(host, namespace, key);
  if (!sameSetting(now, value)) {
    throw new Error(
      `on ${host.name}: ${key}${where(namespace)} reads ${JSON.stringify(now)} after writing ${JSON.stringify(value)}`,
    );
  }
}

/** True when our NatRule or PortForward rules in the namespace need forwarding on. */
async function rulesNeedForwarding(host: Host, namespace: string | undefined): Promise<boolean> {
  const rules = await firewallFor().natRules(liveReader(host), namespace);
  return othersNeedForwarding(rules ?? [], undefined);
}

/** Refuses to turn forwarding off under our rules that need it on. */
async function assertForwardingValue(
  host: Host,
  namespace: string | undefined,
  key: string,
  value: string,
): Promise<void> {
  if (!FORWARDING_KEYS.includes(key) || sameSetting(value, "1")) return;
  if (await rulesNeedForwarding(host, namespace)) {
    throw new Error(
      `on ${host.name}: ${key}${where(namespace)} cannot be ${JSON.stringify(value)}: NatRule or PortForward rules there need forwarding on (or give them forwarding: false)`,
    );
  }
}

/** The Sysctl kind: its inputs as declared, and its lifecycle. */
export const sysctlKind = declareKind<SysctlInputs, SysctlOutputs>({
  name: "Sysctl",
  fields: {
    connection: connection("replace-on-host"),
    namespace: { type: checked(namespaceNameProblem), change: "replace" },
    key: { type: keyField, change: "replace" },
    value: { type: valueField, change: "update" },
  },
  outputs: ["valueBefore"],
  // The setting is read live: a refresh snapshot holds only ip_forward.
  snapshotRead: false,
  // A replacement of the same setting (the host changed, which may be the same machine by
  // another name; or forwarding respelled) deletes first: the old one puts its value back and
  // drops its claim, and the new one records the value afresh. Another key or namespace is
  // another file: the new one is made first.
  deleteBeforeReplace: (olds, news) =>
    containsUnknown([news.namespace, news.key]) ||
    (sameValue(olds.namespace, news.namespace) &&
      typeof olds.key === "string" &&
      typeof news.key === "string" &&
      sysctlClaimKey(olds.key) === sysctlClaimKey(news.key)),

  idOf: () => `sysctl-${randomBytes(4).toString("hex")}`,

  async create(host, inputs, id) {
    const { namespace: ns, key, value } = inputs;
    return withLock(lockKey(host.name, ns, key), () =>
      transactional(async (undo) => {
        // A key that does not exist, or a namespace that does not, fails here before anything changes.
        const found = await currentValue(host, ns, key);
        const claim = await readSysctlClaim(host, ns, key);
        if (claim !== undefined && claim !== id) {
          throw new Error(
            `on ${host.name}: ${key}${where(ns)} is already set by Sysctl ${claim}; two Sysctl resources on one key would put back each other's values (a claim left by a lost stack can be removed: rm ${sysctlClaimPath(ns, key)})`,
          );
        }
        let valueBefore = found;
        if (FORWARDING_KEYS.includes(key)) {
          await assertForwardingValue(host, ns, key, value);
          // Our rules turned forwarding on: the value they recorded is the one to put back, now ours.
          const recorded = await readForwardingRecord(host, ns);
          if (recorded !== undefined) {
            valueBefore = String(recorded);
            await removeForwardingRecord(host, ns);
            undo(() => writeForwardingRecord(host, ns, recorded));
          }
        }
        await writeSysctlClaim(host, ns, key, id);
        undo(() => removeSysctlClaim(host, ns, key));
        if (!sameSetting(found, value)) {
          undo(() => writeSysctl(host, ns, sysctlFile(segmentsOf(key)), found));
          await setValue(host, ns, key, value);
        }
        return { ...inputs, valueBefore };
      }),
    );
  },

  async read(reader, id, props) {
    const now = await reader.sysctl(props.namespace, sysctlFile(segmentsOf(props.key)));
    // The namespace, or the interface whose setting it was, is gone: so is the setting.
    if (now === undefined) return undefined;
    // Our claim is gone (a reboot cleared /run, and put the setting back): delete would do
    // nothing now, so the Sysctl is gone, and `up` makes it again, recording the value found then.
    if ((await reader.sysctlClaim(props.namespace, props.key)) !== id) return undefined;
    // The value as the user wrote it while the kernel agrees; the kernel's own words when not (drift).
    return { ...props, value: sameSetting(now, props.value) ? props.value : now };
  },

  async update(host, id, olds, news) {
    const { namespace: ns, key, value } = news;
    return withLock(lockKey(host.name, ns, key), async () => {
      await assertForwardingValue(host, ns, key, value);
      // Without the claim, delete would not put the value back: write it again (an `up` without refresh after a reboot).
      const claim = await readSysctlClaim(host, ns, key);
      if (claim === undefined) {
        await writeSysctlClaim(host, ns, key, id);
      } else if (claim !== id) {
        throw new Error(
          `on ${host.name}: ${key}${where(ns)} is now set by Sysctl ${claim}; two Sysctl resources on one key would put back each other's values (refresh to see this one gone)`,
        );
      }
      const now = await currentValue(host, ns, key);
      if (!sameSetting(now, value)) await setValue(host, ns, key, value);
      return { ...news, valueBefore: olds.valueBefore };
    });
  },

  async delete(host, id, props) {
    const { namespace: ns, key, valueBefore } = props;
    return withLock(lockKey(host.name, ns, key), async () => {
      // No claim of ours: deleted already (or the host rebooted, which put every setting back).
      if ((await readSysctlClaim(host, ns, key)) !== id) return;
      const found = await readSysctl(host, ns, sysctlFile(segmentsOf(key)));
      if ("value" in found) {
        if (
          FORWARDING_KEYS.includes(key) &&
          !sameSetting(valueBefore, "1") &&
          (await rulesNeedForwarding(host, ns))
        ) {
          // Rules of ours still need forwarding: the last of them puts the value from before back.
          await writeForwardingRecord(host, ns, 0);
        } else if (!sameSetting(found.value, valueBefore)) {
          await writeSysctl(host, ns, sysctlFile(segmentsOf(key)), valueBefore);
        }
      }
      await removeSysctlClaim(host, ns, key);
    });
  },
});

/**
 * Arguments of a {@link Sysctl}. A changed `key` or `namespace` replaces it
 * (the old setting is put back); a changed `value` updates in place. A
 * replacement that keeps the setting (a changed `host`, or forwarding
 * respelled between `net.ipv4.ip_forward` and `net.ipv4.conf.all.forwarding`)
 * puts the old value back before the new one is set.
 */
export interface SysctlArgs {
  /**
   * The host to build on, `{ host: "10.1.0.2", privateKey: key }`; the stack's `linuxnet:*` config
   * when omitted. A changed `host` replaces the setting; any other change updates the stored
   * connection in place (see {@link ConnectionArgs}).
   */
  connection?: pulumi.Input<ConnectionArgs>;
  /**
   * The namespace whose setting it is: `blue.name`. The host itself when
   * omitted. Inside a namespace only `net.*` keys are accepted (the others are
   * not per network namespace). Changing it replaces the setting.
   */
  namespace?: pulumi.Input<string>;
  /**
   * The key, as `sysctl` writes it: `"net.ipv4.conf.all.rp_filter"`; an
   * interface name with a dot takes a `/` there
   * (`"net.ipv4.conf.eth0/100.rp_filter"`). The path form under /proc/sys
   * (`"net/ipv4/conf/all/rp_filter"`) is accepted and stored dotted. Required.
   * A key the kernel does not have fails at create, naming it. Changing it
   * replaces the setting.
   */
  key: pulumi.Input<string>;
  /**
   * The value, as a string: `"2"`, `"1000 2000"` (white space between the
   * words of a multi-value key is one separator, as the kernel's tab). Required.
   * Updates in place; a value changed behind our back shows as drift here.
   */
  value: pulumi.Input<string>;
}

/**
 * One kernel setting in the host or a namespace, put back as found on delete.
 * Equivalent to: `[ip netns exec NS] sysctl -w KEY=VALUE`
 */
export class Sysctl extends LinuxnetResource {
  /** The key, in its dotted form. */
  declare readonly key: pulumi.Output<string>;
  /** The value, as last read from the host (a value changed behind our back shows here). */
  declare readonly value: pulumi.Output<string>;
  /** The value found before create, as the kernel printed it: what delete puts back. */
  declare readonly valueBefore: pulumi.Output<string>;
  /**
   * @param name - The resource's name in the stack.
   * @param args - The setting: `key` and `value`, and optionally `namespace`.
   * @param opts - Pulumi resource options (`dependsOn`, `deletedWith`, ...).
   */
  constructor(name: string, args: SysctlArgs, opts?: pulumi.CustomResourceOptions) {
    super(sysctlKind, name, args, opts);
  }
}
