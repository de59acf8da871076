/**
 * The provider side: what runs in the engine's dynamic-provider process. The
 * serialized provider of every resource is a few lines that `require` this
 * module (see `resources/shim.ts`), so state stays small and a package upgrade
 * takes effect without a diff.
 */

import type * as dynamic from "@pulumi/pulumi/dynamic";
import { CommandError, TransportError, ValidationError } from "./errors";
import { hostFor, hostKeyFingerprintOf, sessionFact, type Host } from "./transport";
import { type Connection, connectionKey, resolveConnection } from "./transport/connection";
import { type HostReader, liveReader, snapshotReader } from "./host/reader";
import { SnapshotCache, readHostSnapshot } from "./host/snapshot";
import { secretPaths, structSafe } from "./struct";
import type { BaseInputs } from "./resources/kind";
import { type KindName, SNAPSHOT_READ_KINDS, kindNamed } from "./resources/registry";

export { type KindName, kinds } from "./resources/registry";

/** The engine's own key for the serialized provider: never part of our state. */
const PROVIDER_KEY = "__provider";

function withoutProvider<T extends object>(props: T): T {
  const { [PROVIDER_KEY]: _dropped, ...rest } = props as Record<string, unknown>;
  return rest as T;
}

/**
 * The credentials of the stack's default connection, from its config
 * (`linuxnet:privateKey`, ...), as the engine hands them to `configure`.
 * Resources made with the default connection store where to connect but not
 * these (see `connectionInput` in resources/program.ts).
 */
let stackCredentials: Record<string, string | undefined> = {};

/**
 * `linuxnet:deleteUnreachable` of the stack config as the provider was
 * configured: it reaches resources whose stored connection predates it.
 */
let stackDeleteUnreachable = false;

/** Keeps the stack config's credentials for connections that refer to them. */
export function configure(config: { get(key: string): string | undefined }): void {
  stackCredentials = {
    privateKey: config.get("linuxnet:privateKey"),
    privateKeyPassphrase: config.get("linuxnet:privateKeyPassphrase"),
    password: config.get("linuxnet:password"),
    agentSocket: config.get("linuxnet:agentSocket"),
    sudoPassword: config.get("linuxnet:sudoPassword"),
  };
  stackDeleteUnreachable = config.get("linuxnet:deleteUnreachable") === "true";
}

function connectionOf(props: BaseInputs): Connection {
  let raw: Record<string, unknown> = props.connection ?? {};
  if (raw.credentials === "stack-config") {
    raw = {
      ...raw,
      ...Object.fromEntries(Object.entries(stackCredentials).filter(([, v]) => v !== undefined)),
    };
  }
  const { connection, failures } = resolveConnection(raw);
  if (!connection) throw new ValidationError(failures);
  return connection;
}

/**
 * How long a host snapshot keeps answering reads after it was taken. The
 * engine sends a refresh's reads in parallel (up to its parallelism), and
 * each wave follows the last within milliseconds once the snapshot answers
 * them, so 2 s covers a whole refresh of hundreds of resources on one host
 * with one or two snapshots. It is kept that short because a snapshot is a
 * picture of the past: anything that changes the host outside this process
 * (a user, another tool, a test) is invisible to reads that still use it.
 * Our own creates, updates and deletes drop it at once (see {@link mutating}).
 */
export const SNAPSHOT_WINDOW_MS = 2_000;

/** The snapshots shared by this provider process's reads, by connection. */
export const hostSnapshots = new SnapshotCache(SNAPSHOT_WINDOW_MS);

/**
 * The reader for one resource's `read`: for the kinds that can, one snapshot
 * of the host shared with the other reads of the same refresh (questions the
 * snapshot cannot answer, and a snapshot that could not be taken, fall back to
 * per-object commands); for the others, the host itself.
 */
async function readerFor(name: KindName, props: BaseInputs): Promise<HostReader> {
  const connection = connectionOf(props);
  const host = hostFor(connection);
  const live = liveReader(host);
  if (!SNAPSHOT_READ_KINDS.has(name)) return live;
  const snapshot = await hostSnapshots.get(connectionKey(connection), connection.host, () =>
    readHostSnapshot(host),
  );
  return snapshot ? snapshotReader(snapshot, live) : live;
}

/**
 * Runs a change to a host with that host's snapshots dropped before it starts
 * and again after it ends, so that no read after it (`up` after a refresh, a
 * read-back) is answered from a picture taken before or during it.
 */
async function mutating<T>(props: BaseInputs, change: (host: Host) => Promise<T>): Promise<T> {
  const connection = connectionOf(props);
  hostSnapshots.forget(connection.host);
  try {
    return await change(hostFor(connection));
  } finally {
    hostSnapshots.forget(connection.host);
  }
}

/**
 * Outputs with the fingerprint of the key the host presented (when no
 * `hostKey` is pinned, this is what a user checks and then pins) and the
 * boot the object lives on (`bootId`, when the host tells it): a read on
 * another boot counts the object as gone with the reboot.
 */
async function withHostFacts(
  props: BaseInputs,
  outs: object,
  bootId: string | undefined,
): Promise<object> {
  return {
    ...outs,
    hostKeyFingerprint: await hostKeyFingerprintOf(connectionOf(props)),
    ...(bootId === undefined ? {} : { bootId }),
  };
}

/** The boot id of the host, read once per pooled connection (a reboot drops the connection). */
function currentBootId(props: BaseInputs): Promise<string | undefined> {
  const connection = connectionOf(props);
  return sessionFact(connection, "bootId", (host) => liveReader(host).bootId()).catch(
    () => undefined,
  );
}

/**
 * The engine's address when this is the engine's dynamic-provider process
 * (its first argument), where a warning can go to the engine as a
 * diagnostic; undefined anywhere else (a test calling the handler).
 */
function engineAddress(): string | undefined {
  const main = require.main?.filename ?? "";
  return /[\\/]cmd[\\/]dynamic-provider[\\/]/.test(main) ? process.argv[2] : undefined;
}

/**
 * Says `message` as a warning the user sees: through the engine, as
 * `pulumi.log.warn` does in a program (the CLI shows it under the stack),
 * when this is the engine's provider process, whose stderr the CLI does not
 * show; on stderr otherwise. The SDK's store learns the engine's address,
 * which the dynamic-provider process is given but does not record.
 */
export async function warn(message: string): Promise<void> {
  const address = engineAddress();
  if (address) {
    try {
      const state = require("@pulumi/pulumi/runtime/state") as {
        getStore(): { settings: { options: { engineAddr?: string } } };
      };
      const options = state.getStore().settings.options;
      options.engineAddr ||= address;
      const pulumi = require("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
      await pulumi.log.warn(message);
      return;
    } catch {
      // fall through to stderr
    }
  }
  console.warn(`warning: ${message}`);
}

/**
 * Why an object recorded on boot `recorded` is gone, when the host booted
 * again since (its namespaces, links, routes and rules went with the old
 * boot): the warning to show. Undefined on the same boot, for state from
 * before boot ids were recorded (it has none and reads as it always did),
 * and when the host tells none. Pure.
 */
export function bootedSince(
  props: BaseInputs,
  recorded: unknown,
  now: string | undefined,
): string | undefined {
  if (typeof recorded !== "string" || now === undefined || recorded === now) return undefined;
  return `${connectionOf(props).host} booted again since ${props.resourceName ?? "this resource"} was made (boot id ${recorded}, now ${now}): counted as gone, so the next up makes it again`;
}

/** Marks the outputs of a create that a broken connection cut off. */
const INCOMPLETE = "incomplete";

/**
 * A create whose connection broke may have run on the host, in part or in
 * full, with its answer lost: recorded as nothing, it would leave an object
 * no stack owns, and the next `up` would trip over it ("File exists"). So
 * such a failure carries the id and the inputs, and the engine records the
 * resource as created with an initialization error; the next `up` updates
 * it, and `update` deletes what may be there and creates it again under the
 * same id. Other failures leave nothing on the host (create undoes its own
 * steps), so they are passed on as they are.
 */
export function interrupted(e: unknown, id: string, props: BaseInputs): unknown {
  if (!(e instanceof TransportError) || e.level !== "protocol") return e;
  // A new error for each create: one lost connection fails many commands with the same error object.
  return Object.assign(new Error(e.message, { cause: e }), {
    name: e.name,
    id,
    // The SDK sends these as a Struct, as it does outputs (grpcResponseFromError).
    properties: structSafe({ ...props, [INCOMPLETE]: true }),
    reasons: [e.message],
  });
}

/**
 * Runs a refresh's read or a delete, which must reach the host the object
 * lives on. A host that cannot be reached within the dial deadline (a VM
 * deleted before the network objects on it) fails them with the ways out, or,
 * with `connection.deleteUnreachable`, counts its objects as gone (`gone` is
 * the answer that says so) and warns on stderr, which the engine shows.
 */
export async function unlessUnreachable<T>(
  props: BaseInputs,
  operation: "refresh" | "destroy",
  gone: T,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (e) {
    if (!(e instanceof TransportError) || e.level !== "timeout") throw e;
    const connection = connectionOf(props);
    // Only the host itself: a jump host that is down says nothing about the objects behind it.
    if (e.host !== connection.host) throw e;
    const what = `${props.resourceName ?? "this resource"}`;
    // An explicit `deleteUnreachable: false` on the connection wins over the stack's setting.
    const given = (props.connection as { deleteUnreachable?: unknown } | undefined)
      ?.deleteUnreachable;
    if (given === true || (given !== false && stackDeleteUnreachable)) {
      await warn(
        `${e.message}; connection.deleteUnreachable is set, so ${operation} counts ${what} as gone from ${connection.host}`,
      );
      return gone;
    }
    throw new TransportError(
      e.level,
      e.host,
      `${e.message.replace(/^ssh to [^:]+: /, "")}. If the host is gone for good (a deleted VM), ${unreachableRemedies(what)}`,
      { cause: e },
    );
  }
}

/** The ways out for the objects of a host that is gone, for an error message. Pure. */
export function unreachableRemedies(resource: string): string {
  return [
    `any of: \`pulumi config set linuxnet:deleteUnreachable true\` and run \`pulumi refresh --run-program\` or \`pulumi destroy --run-program\` (without it they keep the provider config of the last up), so its objects count as gone`,
    `(connection.deleteUnreachable: true does the same, but only once it is in the state, which takes an update that reaches the host);`,
    `give the network resources \`deletedWith: vm\` (they then go with the VM, no dial needed);`,
    `or drop ${resource} from the state: \`pulumi state delete '<URN>'\` with its URN from \`pulumi stack --show-urns\``,
  ].join(" ");
}

/**
 * Why a secret wrapper in check's inputs is refused. The SDK's dynamic-provider
 * process tells the engine it does not accept secrets (`ConfigureResponse`
 * `acceptSecrets: false`), so the engine sends a secret input as its plain
 * value and marks the outputs of the same name secret again; a wrapper can
 * only come from something else speaking for the engine.
 */
const SECRET_WRAPPER_REASON =
  "is a secret wrapper: this provider takes secrets as plain values (it does not accept secrets, so the engine unwraps them for it)";

/**
 * The dynamic provider for one kind, as the engine's dynamic-provider process
 * calls it. Every value a method hands back goes through {@link structSafe}:
 * the SDK turns each into a protobuf `Struct`, which refuses `undefined`
 * (pulumi#2205), and the engine stores it as JSON. Requests arrive as the SDK
 * decodes them (`Struct.toJavaScript`, nothing more): plain JSON values, with
 * the engine's unknown placeholder string where a value is not known yet.
 */
export function handler(name: KindName): dynamic.ResourceProvider {
  const kind = kindNamed(name);
  if (!kind)
    throw new Error(
      `pulumi-linuxnet has no resource kind "${name}": is the package older than the stack?`,
    );
  return {
    async configure(req) {
      configure(req.config);
    },
    async check(olds, news) {
      const wrapped = secretPaths(news);
      if (wrapped.length > 0) {
        const failures = wrapped.map((property) => ({ property, reason: SECRET_WRAPPER_REASON }));
        return structSafe({ inputs: news, failures });
      }
      const { inputs, failures } = kind.check(olds, news);
      return structSafe({ inputs, failures });
    },
    async diff(_id, olds, news) {
      const diff = kind.diff(olds, news);
      // A create cut off by a broken connection is finished by an update (see `interrupted`).
      return structSafe(olds[INCOMPLETE] ? { ...diff, changes: true } : diff);
    },
    async create(inputs) {
      const props = withoutProvider(inputs);
      const id = kind.idOf(props);
      try {
        const outs = await mutating(inputs, (host) => kind.create(host, props, id));
        const bootId = await currentBootId(inputs);
        return structSafe({ id, outs: await withHostFacts(inputs, outs, bootId) });
      } catch (e) {
        // The engine's own key travels too: without it, the next operation cannot load the provider.
        throw interrupted(e, id, inputs);
      }
    },
    async read(id, props) {
      return withReadableFailure(
        props,
        "refreshing",
        unlessUnreachable(props, "refresh", {}, async () => {
          const reader = await readerFor(name, props);
          const recorded = (props as { bootId?: unknown }).bootId;
          // A refresh's snapshot holds it; other kinds ask once per connection.
          const bootId = await (SNAPSHOT_READ_KINDS.has(name)
            ? reader.bootId()
            : currentBootId(props));
          // No id: the object is gone, and the engine drops it from state so `up` recreates it.
          const rebooted = bootedSince(props, recorded, bootId);
          if (rebooted) {
            await warn(rebooted);
            return {};
          }
          const outs = await kind.read(reader, id, withoutProvider(props));
          const kept = bootId ?? (typeof recorded === "string" ? recorded : undefined);
          return outs ? structSafe({ id, props: await withHostFacts(props, outs, kept) }) : {};
        }),
      );
    },
    async update(id, olds, news) {
      const outs = await mutating(news, async (host) => {
        if ((olds as { [INCOMPLETE]?: boolean })[INCOMPLETE]) {
          // A create cut off by a broken connection: whatever part of it reached the host goes,
          // and the create runs again under the same id.
          await kind.delete(host, id, withoutProvider(olds));
          return kind.create(host, withoutProvider(news), id);
        }
        return kind.update(host, id, withoutProvider(olds), withoutProvider(news));
      });
      const bootId = await currentBootId(news);
      return structSafe({ outs: await withHostFacts(news, outs, bootId) });
    },
    async delete(id, props) {
      await withReadableFailure(
        props,
        "deleting",
        unlessUnreachable(props, "destroy", undefined, () =>
          mutating(props, (host) => kind.delete(host, id, withoutProvider(props))),
        ),
      );
    },
  };
}

/**
 * The provider of `linuxnet.lab.LabHost` (see provider/lab), loaded on first
 * use: the lab's code is not needed by any other resource.
 */
export function labHostHandler(): dynamic.ResourceProvider {
  return (require("./lab/runtime") as typeof import("./lab/runtime")).labHostProvider;
}

/**
 * A failed read or delete as the user sees it: the SDK's dynamic-provider
 * server prints their errors as `${e}: ${e.stack}`, which repeats our message
 * and adds the provider's stack frames. For the errors we write for users (the
 * host, a command, the input), the stack becomes the resource it concerns.
 */
export async function withReadableFailure<T>(
  props: BaseInputs,
  doing: "refreshing" | "deleting",
  operation: Promise<T>,
): Promise<T> {
  try {
    return await operation;
  } catch (e) {
    if (e instanceof TransportError || e instanceof CommandError || e instanceof ValidationError)
      e.stack = `while ${doing} ${props.resourceName ?? "a resource"}`;
    throw e;
  }
}
