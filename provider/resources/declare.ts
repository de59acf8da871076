/**
 * How a kind declares its inputs, once, as data: each field's type (its
 * validation, normalisation and default), whether a change replaces the
 * object or updates it in place, and whether it is stored as a secret. The
 * kind's `check` and `diff` and the props its program class registers are
 * derived from that declaration here, as pulumi-command derives them from its
 * struct tags; the kind file keeps only what is its own (plans, read, the
 * kernel's quirks). Pure, but for a create that takes over an existing object
 * ({@link takeOver}), which runs the kind's own read, mark and update.
 */

import type { ValidationFailure } from "../errors";
import { type HostReader, liveReader } from "../host/reader";
import { ExistsError, adoptedMarkOf, markFor, ownershipOf } from "./owner";
import type { Host } from "../transport";
import {
  type BaseInputs,
  type CheckOutcome,
  type DiffOutcome,
  type Kind,
  autoName,
  checkConnection,
  containsUnknown,
  isObject,
  kindOf,
  sameValue,
} from "./kind";
import {
  Checker,
  type InterfaceAddress,
  checkAddresses,
  formatAddress,
  isUnknown,
  shown,
} from "./validate";

/** Where a field's check is: what it may read besides its own value, and where it reports. */
export interface FieldContext {
  readonly checker: Checker;
  /** The path failures name: `name`, `a.addresses`. */
  readonly path: string;
  /** The field's own key at its level: `name`. */
  readonly key: string;
  /** The same level of the inputs in state (olds), when it is an object. */
  readonly previous: Record<string, unknown> | undefined;
  /** The whole new inputs: `resourceName` and the fields a rule compares. */
  readonly root: Record<string, unknown>;
  /** The new inputs of this level as checked so far (a field may set a companion, as `autoNamed`). */
  readonly out: Record<string, unknown>;
}

/**
 * A field's type: how a value is checked and normalised. `check` gets the
 * value as the engine sent it (the unknown placeholder included) and returns
 * the value to keep, or `undefined` to keep the value as it was given.
 */
export interface FieldType {
  check(value: unknown, ctx: FieldContext): unknown;
  /** The fields inside, for an object whose parts diff on their own. */
  readonly fields?: Fields;
}

/**
 * What a change of a field does. `replace`: the object is made anew;
 * `update`: in place; `none`: not compared (state only).
 */
export type Change = "replace" | "update" | "none";

/** One declared input. */
export interface Field {
  readonly type: FieldType;
  /** For an object with declared `fields`, each part says its own change, and this is ignored. */
  readonly change: Change;
  /** Paths inside an undeclared object whose change replaces (a connection's `host`); any other change updates. */
  readonly replaceOn?: readonly string[];
  /** What an omitted value means when compared: a route's table `"main"`. */
  readonly absentIs?: unknown;
  /** Stored as a secret output (the program marks it with `additionalSecretOutputs`). */
  readonly secret?: boolean;
  /** What the program sends when the argument is omitted; nothing when unset. */
  readonly programDefault?: unknown;
  /**
   * The stack config key (in the `linuxnet` namespace: `firewall` for
   * `linuxnet:firewall`) whose value the program sends when the argument is
   * omitted; before {@link Field.programDefault}.
   */
  readonly configDefault?: string;
  /** A rule across this field and the ones declared before it, checked right after it. */
  readonly rule?: (
    out: Record<string, unknown>,
    checker: Checker,
    root: Record<string, unknown>,
  ) => void;
}

/** A kind's fields, in the order they are checked, diffed and registered. */
export type Fields = Readonly<Record<string, Field>>;

// -- Field types ------------------------------------------------------------------------

/** A string-ish value checked by a rule that says why it is wrong; unset and unknown pass. */
export function checked(problem: (value: unknown) => string | undefined): FieldType {
  return {
    check(value, ctx) {
      if (value === undefined || isUnknown(value)) return undefined;
      const why = problem(value);
      if (why) ctx.checker.fail(ctx.path, why);
      return undefined;
    },
  };
}

/** `true` or `false`; `fallback` when omitted (or null). */
export function bool(fallback: boolean): FieldType {
  return {
    check(value, ctx) {
      if (value !== undefined && typeof value !== "boolean" && !isUnknown(value)) {
        ctx.checker.fail(ctx.path, "must be true or false");
      }
      return value ?? fallback;
    },
  };
}

/** One of `choices`; `fallback` when omitted (or null). */
export function oneOf(choices: readonly string[], fallback: string): FieldType {
  return {
    check(value, ctx) {
      if (value === undefined || value === null) return fallback;
      if (!isUnknown(value) && (typeof value !== "string" || !choices.includes(value))) {
        ctx.checker.fail(
          ctx.path,
          `must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : shown(value)}`,
        );
      }
      return undefined;
    },
  };
}

/** An integer from `min` to `max`; unset and unknown pass. */
export function integer(min: number, max: number): FieldType {
  return checked((value) =>
    typeof value !== "number" || !Number.isInteger(value) || value < min || value > max
      ? `must be an integer from ${min} to ${max}, got ${shown(value)}`
      : undefined,
  );
}

/**
 * An object name the kernel holds once, generated from the resource's name
 * when omitted (or null) and then kept across updates; the companion field
 * `autoNamed` says which. `suffix` tells two generated names of one resource apart.
 */
export function generatedName(options: {
  readonly maxBytes: number;
  readonly problem: (value: unknown) => string | undefined;
  readonly suffix?: string;
}): FieldType {
  return {
    check(value, ctx) {
      const before = ctx.previous;
      if (value === undefined || value === null) {
        const previous = before?.autoNamed ? before[ctx.key] : undefined;
        const name = autoName(ctx.root.resourceName, previous, options.maxBytes, options.suffix);
        ctx.out[ctx.key] = name;
        ctx.out.autoNamed = true;
        return name;
      }
      ctx.out.autoNamed = false;
      if (!isUnknown(value)) {
        const why = options.problem(value);
        if (why) ctx.checker.fail(ctx.path, why);
      }
      return undefined;
    },
  };
}

/** Interface addresses in CIDR form, normalised (`fd00::1/64`), none repeated; `[]` when omitted. */
export function addressList(): FieldType {
  return {
    check(value, ctx) {
      const list: InterfaceAddress[] | undefined = checkAddresses(ctx.checker, ctx.path, value);
      return list?.map(formatAddress);
    },
  };
}

/**
 * The connection: checked as {@link checkConnection} does (required, unless
 * the stack config gives one), always a secret.
 */
export function connection(change: "replace-on-host" | "update"): Field {
  return {
    type: {
      check(value, ctx) {
        checkConnection(ctx.checker, value);
        return undefined;
      },
    },
    change: "update",
    replaceOn: change === "replace-on-host" ? ["host"] : undefined,
    secret: true,
  };
}

/**
 * The `firewall` input of the kinds that own firewall rules: `"auto"`,
 * `"iptables"` or `"nftables"` (see firewall/index.ts), `"auto"` when
 * omitted; the program sends the stack's `linuxnet:firewall` for an omitted one.
 */
export function firewallField(change: "replace" | "update"): Field {
  return {
    type: oneOf(["auto", "iptables", "nftables"], "auto"),
    change,
    absentIs: "auto",
    configDefault: "firewall",
  };
}

/**
 * The `adopt` input of the kinds that make a named object: true takes over an
 * existing unmarked object of that name and kind (see owner.ts). Not
 * compared: turning it on or off changes nothing on an object already made.
 */
export function adoptField(): Field {
  return {
    type: checked((value) =>
      typeof value === "boolean" ? undefined : `must be true or false, got ${shown(value)}`,
    ),
    change: "none",
  };
}

/**
 * An object of declared fields (a veth end, a check's endpoint). `required`
 * makes an omitted one a failure; otherwise `fallback` stands for it. `rule`
 * checks the object as a whole after its fields.
 */
export function object(
  fields: Fields,
  options: {
    readonly required?: boolean;
    readonly fallback?: Record<string, unknown>;
    readonly rule?: (value: Record<string, unknown>, ctx: FieldContext) => void;
  } = {},
): FieldType {
  const shape = `{ ${Object.keys(fields)
    .map((k) => `${k}?`)
    .join(", ")} }`;
  return {
    fields,
    check(value, ctx) {
      if (!isObject(value)) {
        if (value === undefined || value === null) {
          if (options.required) ctx.checker.fail(ctx.path, `is required: ${shape}`);
          else return options.fallback;
        } else if (!isUnknown(value)) {
          ctx.checker.fail(ctx.path, `must be an object ${shape}, got ${kindOf(value)}`);
        }
        return undefined;
      }
      const previous = isObject(ctx.previous?.[ctx.key]) ? ctx.previous[ctx.key] : undefined;
      const out = checkLevel(fields, value, previous as Record<string, unknown>, ctx);
      options.rule?.(value, ctx);
      return out;
    },
  };
}

// -- check -------------------------------------------------------------------------------

function checkLevel(
  fields: Fields,
  news: Record<string, unknown>,
  previous: Record<string, unknown> | undefined,
  parent: Pick<FieldContext, "checker" | "root" | "path">,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...news };
  for (const [key, field] of Object.entries(fields)) {
    const path = parent.path ? `${parent.path}.${key}` : key;
    const ctx: FieldContext = { ...parent, path, key, previous, out };
    const value = field.type.check(news[key], ctx);
    if (value !== undefined) out[key] = value;
    field.rule?.(out, parent.checker, parent.root);
  }
  return out;
}

/** Checks inputs against a declaration: failures named by path, and the inputs normalised. */
export function checkInputs<I>(
  fields: Fields,
  olds: Partial<I> | undefined,
  news: I,
): CheckOutcome<I> {
  const checker = new Checker();
  const root = news as Record<string, unknown>;
  const previous = isObject(olds) ? olds : undefined;
  const inputs = checkLevel(fields, root, previous, { checker, root, path: "" });
  return { inputs: inputs as I, failures: checker.failures as ValidationFailure[] };
}

// -- diff --------------------------------------------------------------------------------

/** A value at a path (`a.name`), or undefined wherever something on the way is not an object. */
export function valueAt(value: unknown, path: string): unknown {
  let at = value;
  for (const key of path.split(".")) {
    at = isObject(at) ? at[key] : undefined;
  }
  return at;
}

/** When a replacement deletes the old object before it creates the new one. */
export type DeleteBeforeReplace =
  | boolean
  /**
   * The kernel holds these names once: a replacement that keeps one of them,
   * or in which `unknown` (by default the same paths) is not known yet, deletes first.
   * An entry that is a list of paths is kept when all of them are (a VXLAN
   * device's namespace, VNI and port: the kernel holds that triple once too).
   */
  | {
      readonly keeps: readonly (string | readonly string[])[];
      readonly unknown?: readonly string[];
    }
  /**
   * A rule the declaration cannot say as paths (a Sysctl's key, two spellings
   * of which are one setting): true to delete first. Given the new inputs as
   * checked, which may hold unknowns in a preview.
   */
  | ((olds: Record<string, unknown>, news: Record<string, unknown>) => boolean);

/**
 * A diff from a declaration: a field marked `replace` that changed replaces
 * (named as the user wrote it), one marked `update` updates in place; a
 * changed `connection` whose host stayed is an update of state. `stale` lets
 * recorded outputs ask for an update by themselves.
 */
export function diffInputs(
  fields: Fields,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
  deleteBeforeReplace: DeleteBeforeReplace,
  stale = false,
): DiffOutcome {
  const replaces: string[] = [];
  const lastReplaces: string[] = [];
  let updates = false;
  for (const [key, field] of Object.entries(fields)) {
    const old = olds[key] ?? field.absentIs;
    const now = news[key] ?? field.absentIs;
    const parts = field.type.fields;
    if (parts) {
      const replaceParts = Object.keys(parts).filter((k) => parts[k]!.change === "replace");
      const updateParts = Object.keys(parts).filter((k) => parts[k]!.change === "update");
      if (replaceParts.some((k) => !sameValue(valueAt(old, k), valueAt(now, k)))) {
        replaces.push(key);
      }
      // A value that is not an object (unknown during a preview) is compared as it is.
      const view = (v: unknown) =>
        isObject(v) ? Object.fromEntries(updateParts.map((k) => [k, v[k]])) : v;
      if (updateParts.length > 0 && !sameValue(view(old), view(now))) updates = true;
      continue;
    }
    if (field.change === "none" || sameValue(old, now)) continue;
    if (field.replaceOn?.some((p) => !sameValue(valueAt(old, p), valueAt(now, p)))) {
      // Reported after the others, as the diff has always listed the host last.
      lastReplaces.push(key);
    } else if (field.change === "replace") {
      replaces.push(key);
    }
    // Any other change of a field with `replaceOn` is an update of state (a rotated key).
    if (field.change === "update") updates = true;
  }
  const all = [...new Set([...replaces, ...lastReplaces])];
  return {
    changes: all.length > 0 || updates || stale,
    replaces: all,
    deleteBeforeReplace: all.length > 0 && deletesFirst(fields, deleteBeforeReplace, olds, news),
  };
}

function deletesFirst(
  fields: Fields,
  rule: DeleteBeforeReplace,
  olds: Record<string, unknown>,
  news: Record<string, unknown>,
): boolean {
  if (typeof rule === "boolean") return rule;
  if (typeof rule === "function") return rule(olds, news);
  // A top-level field compares as the diff does: an omitted port is the default one.
  const at = (v: Record<string, unknown>, p: string) =>
    valueAt(v, p) ?? (p.includes(".") ? undefined : fields[p]?.absentIs);
  const kept = (p: string) => sameValue(at(olds, p), at(news, p));
  return (
    rule.keeps.some((k) => (typeof k === "string" ? kept(k) : k.every(kept))) ||
    containsUnknown((rule.unknown ?? rule.keeps.flat()).map((p) => valueAt(news, p)))
  );
}

// -- a kind ------------------------------------------------------------------------------

/** A kind as declared: its name, its fields, and the lifecycle only it knows. */
export interface KindDeclaration<I extends BaseInputs, O extends BaseInputs> {
  /** The type name in the stack: `pulumi-nodejs:dynamic/linuxnet:<name>`. */
  readonly name: string;
  /** Its inputs, `connection` first. `resourceName` is every kind's and is not declared. */
  readonly fields: Fields;
  /** Fields only the provider fills in (`tag`), registered by the program as outputs. */
  readonly outputs?: readonly string[];
  readonly deleteBeforeReplace: DeleteBeforeReplace;
  /**
   * True when `read` asks only a {@link HostReader}'s questions: then a refresh
   * answers it from one snapshot of the host shared with the other reads.
   */
  readonly snapshotRead: boolean;
  /** Recorded outputs that ask for an update by themselves (a check found broken). */
  stale?(olds: O): boolean;
  idOf(inputs: I): string;
  create(host: Host, inputs: I, id: string): Promise<O>;
  read(reader: HostReader, id: string, props: O): Promise<O | undefined>;
  update(host: Host, id: string, olds: O, news: I): Promise<O>;
  delete(host: Host, id: string, props: O): Promise<void>;
  /**
   * Writes a mark of ownership (see owner.ts) on an unmarked object that a
   * create adopts (`adopt: true`), once it is converged; an object with its
   * own mark (an interrupted create) keeps it. A kind without it never takes
   * anything over.
   */
  mark?(host: Host, inputs: I, mark: string): Promise<void>;
}

/** A declared kind: the {@link Kind} the runtime calls, with its declaration for the program side. */
export type DeclaredKind<I extends BaseInputs, O extends BaseInputs> = Kind<I, O> & {
  readonly declaration: KindDeclaration<I, O>;
};

/** The kind a declaration makes: `check` and `diff` derived, the rest as declared. */
export function declareKind<I extends BaseInputs, O extends BaseInputs>(
  declaration: KindDeclaration<I, O>,
): DeclaredKind<I, O> {
  const { fields, deleteBeforeReplace, stale } = declaration;
  return {
    declaration,
    check: (olds, news) => checkInputs(fields, olds, news),
    diff: (olds, news) =>
      diffInputs(
        fields,
        olds as unknown as Record<string, unknown>,
        news as unknown as Record<string, unknown>,
        deleteBeforeReplace,
        stale?.(olds) ?? false,
      ),
    idOf: (inputs) => declaration.idOf(inputs),
    create: (host, inputs, id) =>
      declaration.create(host, inputs, id).catch((e: unknown) => {
        if (!(e instanceof ExistsError) || !declaration.mark) throw e;
        return takeOver(declaration, host, inputs, id, e);
      }),
    read: (reader, id, props) => declaration.read(reader, id, props),
    update: (host, id, olds, news) => declaration.update(host, id, olds, news),
    delete: (host, id, props) => declaration.delete(host, id, props),
  };
}

/**
 * A create that found an object of its name and kind: taken over when it
 * carries this resource's mark (an interrupted create of ours) or none and
 * `adopt` is true; refused otherwise. What cannot change in place (a field
 * declared `replace`) must already be as asked; what can is converged by the
 * kind's own `update`, from the object as read.
 */
async function takeOver<I extends BaseInputs, O extends BaseInputs>(
  declaration: KindDeclaration<I, O>,
  host: Host,
  inputs: I,
  id: string,
  found: ExistsError,
): Promise<O> {
  const mark = markFor(inputs, declaration.name);
  const ownership = ownershipOf(found.mark, mark);
  const adopt = (inputs as { adopt?: unknown }).adopt === true;
  if (ownership === "other" || (ownership === "unmarked" && !adopt)) {
    throw found.refused(ownership);
  }
  const seen = await declaration.read(liveReader(host), id, inputs as unknown as O);
  if (!seen) {
    throw new Error(
      `on ${host.name}: ${found.what} already exists but does not read as this resource's kind of object (${declaration.name}); not taken over`,
    );
  }
  const d = diffInputs(
    declaration.fields,
    seen as unknown as Record<string, unknown>,
    inputs as unknown as Record<string, unknown>,
    false,
  );
  if (d.replaces.length > 0) {
    throw new Error(
      `on ${host.name}: ${found.what} already exists, but its ${d.replaces.join(", ")} differ from this resource's and cannot change in place; not taken over`,
    );
  }
  const outs = await declaration.update(host, id, seen, inputs);
  // Marked only once converged: an update that throws leaves the object unmarked, as found,
  // not marked as a resource the engine never recorded. The mark says it was adopted, so
  // that "linuxnet orphans --delete" never deletes it after it leaves the stack.
  if (ownership === "unmarked") await declaration.mark!(host, inputs, adoptedMarkOf(mark));
  return outs;
}
