/**
 * The program side of every resource class: the tiny serialized provider, the
 * default connection from stack config, and keeping credentials secret.
 */

import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../transport/connection";
import type { KindName } from "../runtime";

/**
 * How the provider process finds our code. The package name when the program
 * resolves it to this very file (a normal install: survives moving the project
 * and picks up upgrades), else this file's absolute path (this repository's
 * own stacks and examples).
 */
function runtimeSpecifier(): string {
  const here = path.join(__dirname, "..", "runtime.js");
  const byName = "pulumi-linuxnet/dist/provider/runtime.js";
  try {
    if (require.resolve(byName, { paths: [process.cwd()] }) === here) return byName;
  } catch {
    // not installed under its name: use the path
  }
  return here;
}

const RUNTIME = runtimeSpecifier();

/**
 * The dynamic provider for one kind. The engine serializes it into the state
 * of every resource, so it is kept to a few lines that load the real code from
 * the installed package at run time; only two strings are captured.
 */
export function dynamicProvider(kind: KindName): pulumi.dynamic.ResourceProvider {
  const runtime = RUNTIME;
  return {
    check: (olds, news) => require(runtime).handler(kind).check(olds, news),
    diff: (id, olds, news) => require(runtime).handler(kind).diff(id, olds, news),
    create: (inputs) => require(runtime).handler(kind).create(inputs),
    read: (id, props) => require(runtime).handler(kind).read(id, props),
    update: (id, olds, news) => require(runtime).handler(kind).update(id, olds, news),
    delete: (id, props) => require(runtime).handler(kind).delete(id, props),
  };
}

const CREDENTIALS = ["privateKey", "privateKeyPassphrase", "password"] as const;

/**
 * The connection a resource uses: the one given, or the stack's default from
 * config (`linuxnet:host`, `linuxnet:privateKey`, ...). It is stored with each
 * resource, so delete and refresh reach the host the object was made on even
 * after the config changes (a changed host then replaces the object).
 * Credentials are marked secret whether or not the caller did.
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

/** The stack's default connection, from the `linuxnet` config namespace. */
function connectionFromConfig(): ConnectionArgs {
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
    privateKey: config.getSecret("privateKey"),
    privateKeyPassphrase: config.getSecret("privateKeyPassphrase"),
    password: config.getSecret("password"),
    agentSocket: config.get("agentSocket"),
    hostKey: config.get("hostKey"),
    sudo: config.getBoolean("sudo"),
    dialTimeoutMs: config.getNumber("dialTimeoutMs"),
    proxy: config.getSecretObject<ConnectionArgs>("proxy"),
  };
}

/** Resource options every class adds: the stored connection is always a secret output. */
export function withSecretConnection(
  opts: pulumi.CustomResourceOptions | undefined,
): pulumi.CustomResourceOptions {
  return {
    ...opts,
    additionalSecretOutputs: [...(opts?.additionalSecretOutputs ?? []), "connection"],
  };
}
