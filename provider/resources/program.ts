/**
 * The program side of every resource class: the tiny serialized provider, the
 * default connection from stack config, and keeping credentials secret.
 */

import * as pulumi from "@pulumi/pulumi";
import { typeTokenOf } from "./type-token";
import type { ConnectionArgs } from "../transport/connection";
import type { Fields } from "./declare";
import { ownerOf } from "./owner";

/**
 * The module every resource's stored provider loads, by package name. It is
 * part of the package's public contract (`exports` in package.json): every
 * state file ever written names it, so it never moves. By name, never by a
 * path of the deploying machine: a path (what a `file:` dependency, `npm
 * link` or a workspace would give through `__dirname`) breaks the next
 * refresh or destroy run from CI or another checkout with "Cannot find
 * module", and pins the state to one copy of the package instead of the one
 * installed when the operation runs.
 */
export const RUNTIME_MODULE = "pulumi-linuxnet/dist/provider/runtime.js";

/**
 * Fails the program, before anything is registered, when the engine's
 * dynamic-provider process would not find {@link RUNTIME_MODULE}. That
 * process resolves it from the project's directory (its working directory,
 * the program's too); a package loaded from elsewhere (a path outside
 * node_modules, a global install) is the usual cause.
 */
function assertRuntimeResolvable(): void {
  if (runtimeChecked) return;
  try {
    require.resolve(RUNTIME_MODULE, { paths: [process.cwd()] });
  } catch {
    throw new Error(
      `pulumi-linuxnet: the engine loads "${RUNTIME_MODULE}" by name from ${process.cwd()}, ` +
        `and it does not resolve there: add pulumi-linuxnet to this project's dependencies ` +
        `(npm install pulumi-linuxnet) so that it is under its node_modules`,
    );
  }
  runtimeChecked = true;
}
let runtimeChecked = false;

/**
 * The provider that the engine keeps in every resource's state (`__provider`)
 * and runs in its dynamic-provider process: one line that loads the installed
 * package and hands over to it. Written by hand rather than by Pulumi's
 * closure serializer, whose output for the same thing is 2.3 KB stored twice
 * per resource and costs a function-source analysis per resource at deploy.
 * The engine takes it as `pulumi.dynamic.Resource` would make it: module text
 * whose `handler()` returns the provider object (see provider/runtime.ts).
 */
export function providerSource(kind: string): string {
  return `exports.handler = () => require(${JSON.stringify(RUNTIME_MODULE)}).handler(${JSON.stringify(kind)});\n`;
}

/**
 * What every resource class of this package is: a Node.js dynamic resource of
 * type `pulumi-nodejs:dynamic/linuxnet:<Kind>` carrying the one-line provider,
 * whose stored connection is always a secret output. Its props come from the
 * kind's declaration (see resources/declare.ts).
 */
export abstract class LinuxnetResource extends pulumi.CustomResource {
  /**
   * The fingerprint (`SHA256:...`) of the key the host presented. With no
   * `hostKey` pinned, any key is accepted: check this one and pin it.
   */
  declare readonly hostKeyFingerprint: pulumi.Output<string>;

  /**
   * Registers a resource of a declared kind: the props are the declared
   * fields, taken from `args` (or the stack config key of the field's
   * `configDefault`, or its `programDefault`), with the
   * connection from {@link connectionInput}, the resource's name, and the
   * provider-filled outputs; the fields declared `secret` are secret outputs.
   */
  protected constructor(
    kind: { readonly declaration: KindOfProgram },
    name: string,
    args: object,
    opts: pulumi.CustomResourceOptions | undefined,
  ) {
    assertRuntimeResolvable();
    const { name: type, fields, outputs = [] } = kind.declaration;
    const given = args as Record<string, unknown>;
    const props: Record<string, unknown> = {
      connection: connectionInput(given.connection as pulumi.Input<ConnectionArgs> | undefined),
      resourceName: name,
      // What its objects' mark of ownership names: two stacks with one resource name differ.
      owner: ownerOf(pulumi.getProject(), pulumi.getStack(), type, name),
    };
    for (const [key, field] of Object.entries(fields)) {
      if (key === "connection") continue;
      const fromConfig = field.configDefault
        ? new pulumi.Config("linuxnet").get(field.configDefault)
        : undefined;
      const fallback = fromConfig ?? field.programDefault;
      props[key] = fallback === undefined ? given[key] : (given[key] ?? fallback);
    }
    for (const key of outputs) props[key] = undefined;
    const secrets = Object.keys(fields).filter((key) => fields[key]!.secret);
    // The SDK registers a resource by making a promise per property, and captures and formats
    // a stack trace for each (`new Error().stack`, through source-map-support) that only its
    // leaked-promise report (`PULUMI_DEBUG_PROMISE_LEAKS`) ever shows: with our ~10 properties
    // per resource that was a third of the program's CPU in a no-change `up` (bench, issue 17).
    // The resource's source position is unaffected (the SDK lifts the limit itself for it).
    const limit = Error.stackTraceLimit;
    if (!process.env.PULUMI_DEBUG_PROMISE_LEAKS) Error.stackTraceLimit = 0;
    try {
      super(
        typeTokenOf(type),
        name,
        { ...props, hostKeyFingerprint: undefined, __provider: providerSource(type) },
        withSecretOutputs(opts, secrets),
      );
    } catch (e) {
      // An error of the SDK's own checks: its stack from here, with the program's frames.
      Error.stackTraceLimit = limit;
      if (e instanceof Error) Error.captureStackTrace(e);
      throw e;
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/** What the program side needs of a kind's declaration. */
interface KindOfProgram {
  readonly name: string;
  readonly fields: Fields;
  readonly outputs?: readonly string[];
}

const CREDENTIALS = ["privateKey", "privateKeyPassphrase", "password", "sudoPassword"] as const;

/**
 * The connection a resource uses: the one given, or the stack's default from
 * config (`linuxnet:host`, `linuxnet:privateKey`, ...). Where to connect is
 * stored with each resource, so delete and refresh reach the host the object
 * was made on even after the config changes (a changed host then replaces the
 * object). Credentials given here are stored too, always as secrets; those of
 * the stack's config are not: the provider reads them from the config when it
 * connects (`credentials: "stack-config"`), so a rotated key needs no update
 * of every resource and state stays small.
 */
export function connectionInput(
  given: pulumi.Input<ConnectionArgs> | undefined,
): pulumi.Input<ConnectionArgs> {
  const connection = given ?? connectionFromConfig();
  if (pulumi.Output.isInstance(connection) || connection instanceof Promise) {
    return pulumi.secret(connection as pulumi.Output<ConnectionArgs>);
  }
  const out: Record<string, unknown> = { ...(connection as ConnectionArgs) };
  for (const key of CREDENTIALS) {
    if (out[key] !== undefined) out[key] = pulumi.secret(out[key] as pulumi.Input<string>);
  }
  if (out.proxy !== undefined)
    out.proxy = connectionInput(out.proxy as pulumi.Input<ConnectionArgs>);
  return out as unknown as ConnectionArgs;
}

/** The stack's default connection, from the `linuxnet` config namespace, less its credentials. */
function connectionFromConfig(): ConnectionArgs & { credentials: "stack-config" } {
  const config = new pulumi.Config("linuxnet");
  const host = config.get("host");
  if (!host) {
    throw new Error(
      "connection: none was given and the stack config has no linuxnet:host; pass `connection` or run `pulumi config set linuxnet:host ADDRESS`",
    );
  }
  return {
    host,
    port: config.getNumber("port"),
    user: config.get("user"),
    hostKey: config.get("hostKey"),
    sudo: config.getBoolean("sudo"),
    dialTimeoutMs: config.getNumber("dialTimeoutMs"),
    proxy: config.getSecretObject<ConnectionArgs>("proxy"),
    credentials: "stack-config",
  };
}

/** Resource options every class adds: the fields declared secret (the connection) are secret outputs. */
function withSecretOutputs(
  opts: pulumi.CustomResourceOptions | undefined,
  secrets: readonly string[],
): pulumi.CustomResourceOptions {
  return {
    ...opts,
    additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), ...secrets],
  };
}
