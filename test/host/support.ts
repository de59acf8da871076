/**
 * The host tier's shared pieces: one lab host per test file, the dynamic
 * provider driven exactly as the engine drives it (check, diff, create, read,
 * update, delete through `handler(kind)`), and out-of-band looks at the host
 * (`ip -json`, `iptables -S`, `/proc/sys`) that do not go through our SSH.
 */

import { afterAll, afterEach, beforeAll, expect } from "vitest";
import type * as dynamic from "@pulumi/pulumi/dynamic";
import { startLab, type Lab, type LabHost } from "../../lab/labhost";
import { handler, type KindName } from "../../provider/runtime";
import { closeAllSessions, transportStats } from "../../provider/transport";
import { requireRoot } from "../support/lab";
import { inNs, ipIn, namespaces, oob, oobAll } from "../support/oob";

export { inNs, ipIn, namespaces, oob, oobAll, oobResult } from "../support/oob";

export { labelled } from "../unit/support";

/** The engine's key for the serialized provider, carried in inputs and state alike. */
export const PROVIDER_KEY = "__provider";
const SERIALIZED_PROVIDER = "exports.handler = require('pulumi-linuxnet/dist/provider/runtime.js')";

/** One lab host, its connection as a program would pass it, and the SSH counters at the start. */
export interface LabContext {
  lab: Lab;
  h: LabHost;
  connection: Record<string, unknown>;
  /** `transportStats.connections` before the file's first operation. */
  connectionsAtStart: number;
}

/**
 * Starts lab `id` with one host in `beforeAll` and tears it down in
 * `afterAll`, after closing the pooled SSH connection. A tier that cannot run
 * says why and fails; it never passes silently.
 */
export function useLabHost(id: string): LabContext {
  const ctx = {} as LabContext;
  beforeAll(async () => {
    requireRoot("the host tier");
    ctx.lab = await startLab({ id, hosts: [{ name: "h1" }] });
    ctx.h = ctx.lab.host("h1");
    ctx.connection = { host: ctx.h.address, privateKey: ctx.h.privateKey, hostKey: ctx.h.hostKey };
    ctx.connectionsAtStart = transportStats.connections;
  });
  afterAll(async () => {
    await closeAllSessions();
    await ctx.lab?.teardown();
  });
  return ctx;
}

/**
 * How many SSH connections the file's operations have opened since its lab
 * host started: one, the pooled one, when every operation shared it.
 */
export function connectionsOpened(ctx: LabContext): number {
  return transportStats.connections - ctx.connectionsAtStart;
}

/**
 * Runs `cleanup` after a test that failed, so that what a failed test left on
 * the host does not fail the tests after it too. Passing tests clean up after
 * themselves and say so; leftovers of theirs are caught by each file's last tests.
 */
export function afterFailure(cleanup: () => Promise<void>): void {
  afterEach(async ({ task }) => {
    if (task.result?.state === "fail") await cleanup();
  });
}

/** A resource as the engine keeps it: its id, the inputs last checked, and its state. */
export interface Managed {
  id: string;
  inputs: Record<string, unknown>;
  outs: Record<string, unknown>;
}

/** Drops the engine's provider key, to compare what the provider itself returned. */
export function own(props: Record<string, unknown> | undefined): Record<string, unknown> {
  const { [PROVIDER_KEY]: _p, ...rest } = props ?? {};
  return rest;
}

/**
 * One kind's dynamic provider, called as the engine calls it: `check` with the
 * previous inputs, `diff` and `update` with the state, the serialized provider
 * in every property bag, and state kept as the engine keeps it.
 */
export class Driver {
  readonly provider: dynamic.ResourceProvider;
  constructor(
    readonly kind: KindName,
    private readonly ctx: LabContext,
  ) {
    this.provider = handler(kind);
  }

  /** The inputs a program would send: the given ones, the connection and the provider. */
  private news(args: Record<string, unknown>): Record<string, unknown> {
    return {
      connection: this.ctx.connection,
      resourceName: `r-${this.kind.toLowerCase()}`,
      ...args,
      [PROVIDER_KEY]: SERIALIZED_PROVIDER,
    };
  }

  /** `check`, failing the test when the inputs are refused. */
  async check(
    args: Record<string, unknown>,
    olds: Record<string, unknown> = {},
  ): Promise<Record<string, unknown>> {
    const r = await this.provider.check!(olds, this.news(args));
    expect(r.failures ?? []).toEqual([]);
    return r.inputs as Record<string, unknown>;
  }

  /** check → create, as `pulumi up` does for a new resource. */
  async create(args: Record<string, unknown>): Promise<Managed> {
    const inputs = await this.check(args);
    const r = await this.provider.create(inputs);
    expect(r.id).toBeTruthy();
    return { id: r.id, inputs, outs: { ...r.outs, [PROVIDER_KEY]: SERIALIZED_PROVIDER } };
  }

  /**
   * `create` of inputs already checked, as its outcome: the id, or the message
   * of the error it threw. For rows where either would be a finding.
   */
  async createOutcome(
    inputs: Record<string, unknown>,
  ): Promise<{ id: string | undefined; error: string | undefined }> {
    return this.provider.create(inputs).then(
      (r) => ({ id: r.id, error: undefined }),
      (e: Error) => ({ id: undefined, error: e.message }),
    );
  }

  /** check → create that must fail; returns the error the user would see. */
  async createFails(args: Record<string, unknown>): Promise<Error> {
    const inputs = await this.check(args);
    const error = await this.provider.create(inputs).then(
      (r) => new Error(`create succeeded with id ${r.id}`),
      (e: unknown) => e as Error,
    );
    expect(error.message).not.toMatch(/^create succeeded/);
    // A failed create with an id would leave a partial resource in state.
    expect((error as { id?: unknown }).id).toBeUndefined();
    return error;
  }

  /** `read` (refresh): the props the host has, or undefined when the engine is told it is gone. */
  async read(res: Managed): Promise<Record<string, unknown> | undefined> {
    const r = await this.provider.read!(res.id, res.outs);
    if (r.id === undefined) {
      expect(r.props).toBeUndefined();
      return undefined;
    }
    expect(r.id).toBe(res.id);
    return r.props as Record<string, unknown>;
  }

  /** check → diff for new inputs against the state, without updating. */
  async diff(res: Managed, args: Record<string, unknown>): Promise<dynamic.DiffResult> {
    const inputs = await this.check(args, res.inputs);
    return this.provider.diff!(res.id, res.outs, inputs);
  }

  /**
   * check → diff → update, as `pulumi up` does for a changed resource; the
   * diff must be an in-place update. Returns the resource with its new state.
   */
  async update(res: Managed, args: Record<string, unknown>): Promise<Managed> {
    const inputs = await this.check(args, res.inputs);
    const d = await this.provider.diff!(res.id, res.outs, inputs);
    expect(d.changes).toBe(true);
    expect(d.replaces ?? []).toEqual([]);
    const r = await this.provider.update!(res.id, res.outs, inputs);
    return { id: res.id, inputs, outs: { ...r.outs, [PROVIDER_KEY]: SERIALIZED_PROVIDER } };
  }

  /** `delete`. */
  async delete(res: Managed): Promise<void> {
    await this.provider.delete!(res.id, res.outs);
  }

  /**
   * Refresh, then diff against the same inputs: what `pulumi refresh` and a
   * following `pulumi up` would show. No drift means read returns the state
   * it was given and the next diff is empty.
   */
  async expectNoDrift(res: Managed): Promise<void> {
    const props = await this.read(res);
    expect(props).toBeDefined();
    expect(own(props)).toEqual(own(res.outs));
    const d = await this.provider.diff!(res.id, { ...props, [PROVIDER_KEY]: "p" }, res.inputs);
    expect(d.changes).toBe(false);
  }
}

// ---------------------------------------------------------------------------------------
// Out of band: what the host really has, seen without our SSH connection.

/** A link as `ip -json -details link show` reports it (what the tests look at). */
export interface SeenLink {
  ifname: string;
  flags: string[];
  mtu: number;
  master?: string;
  linkinfo?: { info_kind?: string };
  ifindex: number;
}

/** Every link in `ns` (or the host), with details. */
export async function links(h: LabHost, ns?: string): Promise<SeenLink[]> {
  const out = (await oob(h, ipIn(ns, "-json", "-details", "link", "show"))).trim();
  return out ? (JSON.parse(out) as SeenLink[]) : [];
}

/** One link in `ns` (or the host), or undefined when it (or `ns`) is not there. */
export async function link(
  h: LabHost,
  ns: string | undefined,
  name: string,
): Promise<SeenLink | undefined> {
  const r = await h.exec(ipIn(ns, "-json", "-details", "link", "show", "dev", name));
  if (r.exitCode !== 0) {
    if (/does not exist|Cannot find device|Cannot open network namespace/.test(r.stderr)) {
      return undefined;
    }
    throw new Error(`ip link show ${name} on ${h.name}: ${r.stderr}`);
  }
  return (JSON.parse(r.stdout) as SeenLink[])[0];
}

/**
 * A link as the tests compare it, seen out of band: its kind, whether it is up,
 * its MTU, its bridge (master) and its configured addresses; undefined when
 * it (or `ns`) is not there.
 */
export async function linkState(h: LabHost, ns: string | undefined, name: string) {
  const seen = await link(h, ns, name);
  if (!seen) return undefined;
  return {
    kind: seen.linkinfo?.info_kind,
    up: seen.flags.includes("UP"),
    mtu: seen.mtu,
    master: seen.master,
    addresses: await addresses(h, ns, name),
  };
}

/** The configured addresses of a link (`a.b.c.d/len`), without the kernel's IPv6 link-local ones. */
export async function addresses(
  h: LabHost,
  ns: string | undefined,
  name: string,
): Promise<string[]> {
  const out = await oob(h, ipIn(ns, "-json", "addr", "show", "dev", name));
  const [entry] = JSON.parse(out) as {
    addr_info: { family: string; local: string; prefixlen: number; scope: string }[];
  }[];
  return (entry?.addr_info ?? [])
    .filter((a) => !(a.family === "inet6" && a.scope === "link"))
    .map((a) => `${a.local}/${a.prefixlen}`);
}

/** A route as `ip -json route` reports it. */
export interface SeenRoute {
  dst: string;
  gateway?: string;
  dev?: string;
  metric?: number;
}

/** The IPv4 routes of the main table in `ns` (or the host). */
export async function routes(h: LabHost, ns?: string): Promise<SeenRoute[]> {
  const out = (await oob(h, ipIn(ns, "-json", "route", "show", "table", "main"))).trim();
  return out ? (JSON.parse(out) as SeenRoute[]) : [];
}

/** The routes to exactly `dst` in the main table of `ns` (or the host). */
export async function routesTo(
  h: LabHost,
  ns: string | undefined,
  dst: string,
): Promise<SeenRoute[]> {
  return (await routes(h, ns)).filter((r) => r.dst === dst);
}

/** The rule lines of `iptables -S` for one table (and chain) in `ns` (or the host). */
export async function rules(
  h: LabHost,
  ns: string | undefined,
  table: string,
  chain?: string,
): Promise<string[]> {
  const out = await oob(
    h,
    inNs(ns, ["iptables", "-w", "-t", table, "-S", ...(chain ? [chain] : [])]),
  );
  return out.split("\n").filter((l) => l.startsWith("-A "));
}

/** `net.ipv4.ip_forward` in `ns` (or the host): "0" or "1". */
export async function ipForward(h: LabHost, ns?: string): Promise<string> {
  return (await oob(h, inNs(ns, ["cat", "/proc/sys/net/ipv4/ip_forward"]))).trim();
}

/** Sets `net.ipv4.ip_forward` in `ns` (or the host), out of band. */
export async function setIpForward(
  h: LabHost,
  ns: string | undefined,
  value: 0 | 1,
): Promise<void> {
  await oob(h, inNs(ns, ["sysctl", "-qw", `net.ipv4.ip_forward=${value}`]));
}

/** Adds namespace `ns` out of band, with `lo` up. */
export async function addNamespace(h: LabHost, ns: string): Promise<void> {
  await oobAll(h, [
    ["ip", "netns", "add", ns],
    ["ip", "-n", ns, "link", "set", "lo", "up"],
  ]);
}

/** Deletes namespace `ns` out of band when it exists. */
export async function removeNamespace(h: LabHost, ns: string): Promise<void> {
  if ((await namespaces(h)).includes(ns)) await oob(h, ["ip", "netns", "delete", ns]);
}

/**
 * A link that carries traffic in `ns`: one end of a veth pair (this kernel has
 * no dummy driver), both ends up, with `address` on `name`.
 */
export async function addUplink(
  h: LabHost,
  ns: string | undefined,
  name: string,
  address: string,
): Promise<void> {
  await oobAll(h, [
    ipIn(ns, "link", "add", name, "type", "veth", "peer", "name", `${name}p`),
    ipIn(ns, "link", "set", `${name}p`, "up"),
    ipIn(ns, "link", "set", name, "up"),
    ipIn(ns, "addr", "add", address, "dev", name),
  ]);
}

/**
 * The message of a failed create says where, what and why: the host, the
 * command as it ran and the kernel's own words.
 */
export function expectUserError(
  error: Error,
  h: LabHost,
  command: string | RegExp,
  kernelWords: string | RegExp,
): void {
  expect(error.message).toContain(h.address);
  // Links are created with a MAC derived from their name (stableMac); the rows leave it out.
  const message = error.message.replace(/ address (?:[0-9a-f]{2}:){5}[0-9a-f]{2}/g, "");
  if (typeof command === "string") expect(message).toContain(`"${command}"`);
  else expect(message).toMatch(command);
  if (typeof kernelWords === "string") expect(error.message).toContain(kernelWords);
  else expect(error.message).toMatch(kernelWords);
  // Never a credential.
  expect(error.message).not.toContain("PRIVATE KEY");
}
