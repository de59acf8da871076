#!/usr/bin/env node
/**
 * The `linuxnet` command line: `doctor` (why can't A reach B, hop by hop),
 * `graph` (the network as Mermaid or SVG) and `orphans` (objects marked as a
 * stack's that its export no longer holds), on a host over SSH or on this
 * machine.
 *
 * ```
 * linuxnet doctor --host 10.1.0.2 --key ~/.ssh/id_ed25519 --from ns-blue --to ns-green
 * linuxnet doctor --from ns-blue/10.0.0.1 --to 1.1.1.1 --json          # this machine
 * linuxnet graph --host 10.1.0.2 --key KEY --svg net.svg
 * linuxnet graph --stack-export state.json                             # pulumi stack export
 * linuxnet orphans --host 10.1.0.2 --key KEY --stack-export state.json [--delete]
 * ```
 *
 * A thin entry point: the work is in ../doctor. The key's text is read from
 * its file and handed to the transport; it is never printed.
 */

import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import { parseArgs } from "node:util";
import { type Host, closeAllSessions, hostFor, hostFromRun } from "../transport";
import { resolveConnection } from "../transport/connection";
import { namespaceNameProblem } from "../resources/validate";
import {
  type Endpoint,
  diagnose,
  diagnoseAcross,
  formatReport,
  readTopology,
  toMermaid,
  toSvg,
  topologyFromStack,
} from "../doctor";
import { isIpv4 } from "../doctor/world";
import {
  deleteOrphans,
  describeMarked,
  findMarked,
  isAdopted,
  orphansOf,
  ownersOfExport,
} from "../resources/orphans";

const USAGE = `usage:
  linuxnet doctor [CONNECTION] --from NS[/ADDR] --to NS[/ADDR] | ADDR [--tcp-port N] [--no-probe] [--json] [--verbose]
                  [--next ADDR [--next-host-key KEY]]...   follow the path on into these hosts
  linuxnet graph  [CONNECTION | --stack-export FILE] [--svg FILE]
  linuxnet orphans [CONNECTION] --stack-export FILE [--stack PROJECT/STACK] [--delete] [--json]
  linuxnet lab up|down|status [--id ID] ...   lab hosts on this machine, as root (lab help)

CONNECTION (none: this machine, as root):
  --host ADDR   --port N (22)   --user NAME (root)   --key FILE   --host-key KEY|SHA256:...   --sudo
  with no --key, ssh-agent ($SSH_AUTH_SOCK) is used.

--next: another host (same --port, --user, --key, --sudo) the path may go on into where it
leaves the first; --next-host-key pins each one's key, in the same order.
doctor exits 0 when the path works, 1 when it is broken, 2 when it could not run.
--from/--to: a namespace, optionally with /ADDRESS; a bare ADDRESS is the host's own
namespace for --from, and "wherever it is" for --to.

orphans lists the objects on the host marked as the export's stack's (links by their
alias, namespaces and routes by a record under /run/linuxnet) that the export does not
hold; --delete removes them, but for adopted ones (they existed before the stack: listed,
never deleted). Unmarked objects and other stacks' are never touched.
--stack names the stack when the export holds no resource; one other than the stack its
resources name is refused. Exits 0 when there are none (or all were deleted), 1 when some
are listed, 2 when it could not run.`;

/** A command-line mistake: print usage, exit 2. */
class UsageError extends Error {}

/** Where output goes (tests pass their own). */
export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const stdio: Io = {
  out: (t) => process.stdout.write(t.endsWith("\n") ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
};

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  user: { type: "string" },
  key: { type: "string" },
  "host-key": { type: "string" },
  sudo: { type: "boolean" },
  from: { type: "string" },
  to: { type: "string" },
  "tcp-port": { type: "string" },
  "no-probe": { type: "boolean" },
  json: { type: "boolean" },
  verbose: { type: "boolean" },
  "stack-export": { type: "string" },
  svg: { type: "string" },
  next: { type: "string", multiple: true },
  "next-host-key": { type: "string", multiple: true },
  stack: { type: "string" },
  delete: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Parses `NS`, `NS/ADDR`, `/ADDR` or `ADDR` (the last two: no namespace). Pure. */
export function parseEndpoint(flag: string, value: string): Endpoint {
  let namespace: string | undefined;
  let address: string | undefined;
  const slash = value.indexOf("/");
  if (slash >= 0) {
    namespace = value.slice(0, slash) || undefined;
    address = value.slice(slash + 1);
  } else if (isIpv4(value)) {
    address = value;
  } else {
    namespace = value;
  }
  if (namespace !== undefined) {
    const problem = namespaceNameProblem(namespace);
    if (problem) throw new UsageError(`--${flag}: the namespace ${problem}`);
  }
  if (address !== undefined && !isIpv4(address)) {
    throw new UsageError(`--${flag}: ${JSON.stringify(address)} is not an IPv4 address`);
  }
  return {
    ...(namespace !== undefined ? { namespace } : {}),
    ...(address !== undefined ? { address } : {}),
  };
}

/** This machine as a {@link Host}: argv run directly, no shell in between. */
export function localHost(): Host {
  const run = (argv: readonly string[], options?: { stdin?: string }) =>
    new Promise<{ stdout: string; stderr: string; exitCode: number }>((resolve) => {
      const child = execFile(
        argv[0]!,
        argv.slice(1),
        { maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
          resolve({
            stdout: String(stdout),
            stderr: String(stderr) || (code === 127 && error ? error.message : ""),
            exitCode: code,
          });
        },
      );
      if (options?.stdin !== undefined) child.stdin?.end(options.stdin);
      else child.stdin?.end();
    });
  return hostFromRun("localhost", run);
}

async function hostFromFlags(v: Record<string, string | boolean | undefined>): Promise<Host> {
  if (v.host === undefined) {
    for (const f of ["port", "user", "key", "host-key", "sudo"]) {
      if (v[f] !== undefined) throw new UsageError(`--${f} needs --host`);
    }
    return localHost();
  }
  let privateKey: string | undefined;
  if (typeof v.key === "string") {
    try {
      privateKey = await fs.readFile(v.key, "utf8");
    } catch (e) {
      // The path is the user's own; the file's content never appears in a message.
      throw new UsageError(
        `--key: cannot read ${v.key}: ${(e as NodeJS.ErrnoException).code ?? "error"}`,
      );
    }
  }
  const raw: Record<string, unknown> = {
    host: v.host,
    ...(v.port !== undefined ? { port: Number(v.port) } : {}),
    ...(v.user !== undefined ? { user: v.user } : {}),
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(v["host-key"] !== undefined ? { hostKey: v["host-key"] } : {}),
    ...(v.sudo ? { sudo: true } : {}),
    dialTimeoutMs: 10_000,
  };
  const { connection, failures } = resolveConnection(raw);
  if (!connection)
    throw new UsageError(
      failures.map((f) => `${f.property.replace(/^connection\./, "--")}: ${f.reason}`).join("; "),
    );
  return hostFor(connection);
}

/**
 * Runs the CLI with `args` (without node and the script); resolves with the
 * exit code. Never prints a private key.
 */
export async function main(args: string[], io: Io = stdio): Promise<number> {
  // Lab hosts to try a stack on: the lab's own command line, loaded only for it.
  if (args[0] === "lab") return lab(args.slice(1), io);
  let parsed;
  try {
    // node:util parseArgs is enough for two flat subcommands; no dependency needed.
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS, strict: true });
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  const command = positionals[0];
  if (v.help || command === undefined || command === "help") {
    (command === undefined && !v.help ? io.err : io.out)(USAGE);
    return command === undefined && !v.help ? 2 : 0;
  }
  try {
    if (positionals.length > 1)
      throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
    if (command === "doctor") {
      const { next, "next-host-key": nextKeys, ...rest } = v;
      return await doctor(rest, io, next ?? [], nextKeys ?? []);
    }
    if (command === "graph") {
      const { next, "next-host-key": nextKeys, ...rest } = v;
      if (next !== undefined || nextKeys !== undefined)
        throw new UsageError("--next and --next-host-key belong to doctor");
      return await graph(rest, io);
    }
    if (command === "orphans") {
      const { next, "next-host-key": nextKeys, ...rest } = v;
      if (next !== undefined || nextKeys !== undefined)
        throw new UsageError("--next and --next-host-key belong to doctor");
      return await orphans(rest, io);
    }
    throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`linuxnet: ${e.message}\n\n${USAGE}`);
    } else {
      io.err(`linuxnet: ${(e as Error).message}`);
    }
    return 2;
  } finally {
    await closeAllSessions();
  }
}

/** `linuxnet lab ...`: lab/cli.ts (up, down, status), shipped with the package. */
async function lab(args: string[], io: Io): Promise<number> {
  const cli = require("../../lab/cli") as typeof import("../../lab/cli");
  try {
    return await cli.main(args.length === 0 ? ["--help"] : args);
  } catch (e) {
    io.err(`linuxnet lab: ${(e as Error).message}\n\n${cli.USAGE}`);
    return 2;
  }
}

async function doctor(
  v: Record<string, string | boolean | undefined>,
  io: Io,
  next: readonly string[] = [],
  nextKeys: readonly string[] = [],
): Promise<number> {
  if (typeof v.to !== "string") throw new UsageError("doctor needs --to");
  if (nextKeys.length > next.length)
    throw new UsageError("--next-host-key: one for each --next at most, in the same order");
  if (v["stack-export"] !== undefined || v.svg !== undefined)
    throw new UsageError("--stack-export and --svg belong to graph");
  if (v.stack !== undefined || v.delete !== undefined)
    throw new UsageError("--stack and --delete belong to orphans");
  const from = typeof v.from === "string" ? parseEndpoint("from", v.from) : {};
  const to = parseEndpoint("to", v.to);
  let port: number | undefined;
  if (v["tcp-port"] !== undefined) {
    port = Number(v["tcp-port"]);
    if (!Number.isInteger(port) || port < 1 || port > 65535)
      throw new UsageError(`--tcp-port must be 1-65535, got ${v["tcp-port"]}`);
  }
  const host = await hostFromFlags(v);
  const request = {
    from,
    to,
    ...(port !== undefined ? { port, protocol: "tcp" as const } : {}),
    ...(v["no-probe"] ? { noProbe: true } : {}),
  };
  const others: Host[] = [];
  for (const [i, address] of next.entries()) {
    others.push(await hostFromFlags({ ...v, host: address, "host-key": nextKeys[i] }));
  }
  const report =
    others.length > 0
      ? await diagnoseAcross([host, ...others], request)
      : await diagnose(host, request);
  io.out(
    v.json
      ? JSON.stringify(report, null, 2)
      : formatReport(report, { verbose: v.verbose === true }),
  );
  return report.healthy ? 0 : 1;
}

/** Reads and parses a `--stack-export` file (`-`: standard input). */
async function readExport(file: string): Promise<unknown> {
  const text =
    file === "-"
      ? await readStdin()
      : await fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
          throw new UsageError(`--stack-export: cannot read ${file}: ${e.code ?? "error"}`);
        });
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new UsageError(`--stack-export: ${file} is not JSON: ${(e as Error).message}`);
  }
}

async function orphans(v: Record<string, string | boolean | undefined>, io: Io): Promise<number> {
  for (const f of ["from", "to", "tcp-port", "no-probe", "svg"]) {
    if (v[f] !== undefined) throw new UsageError(`--${f} does not belong to orphans`);
  }
  if (typeof v["stack-export"] !== "string") {
    throw new UsageError("orphans needs --stack-export FILE (pulumi stack export --file FILE)");
  }
  if (v.stack !== undefined && !/^[^/\s]+\/[^/\s]+$/.test(String(v.stack))) {
    throw new UsageError(`--stack must be PROJECT/STACK, got ${JSON.stringify(v.stack)}`);
  }
  const json = await readExport(v["stack-export"]);
  let owners;
  try {
    owners = ownersOfExport(json, typeof v.stack === "string" ? v.stack : undefined);
  } catch (e) {
    throw new UsageError(`--stack-export: ${v["stack-export"]} ${(e as Error).message}`);
  }
  const host = await hostFromFlags(v);
  const found = orphansOf(await findMarked(host), owners);
  const stack = owners.prefix.slice("linuxnet:".length, -1);
  const kept = found.filter(isAdopted);
  if (v.json) {
    const orphans = found.map((o) => ({ ...o, adopted: isAdopted(o) }));
    io.out(JSON.stringify({ stack, orphans, deleted: v.delete === true }, null, 2));
  } else if (found.length === 0) {
    io.out(`no orphans of ${stack} on ${host.name}`);
  } else {
    io.out(
      `${found.length} object(s) on ${host.name} marked as ${stack}'s that the export does not hold:`,
    );
    for (const o of found) io.out(`  ${describeMarked(o)}`);
  }
  if (!v.delete || found.length === 0) return found.length === 0 ? 0 : 1;
  await deleteOrphans(host, found);
  if (!v.json) {
    io.out(`deleted ${found.length - kept.length} object(s)`);
    if (kept.length > 0) {
      io.out(
        `kept ${kept.length} adopted object(s): they existed before the stack adopted them; delete them by hand, or remove their mark (a link's alias, a record under /run/linuxnet) to keep them`,
      );
    }
  }
  return 0;
}

async function graph(v: Record<string, string | boolean | undefined>, io: Io): Promise<number> {
  for (const f of ["from", "to", "tcp-port", "no-probe"]) {
    if (v[f] !== undefined) throw new UsageError(`--${f} belongs to doctor`);
  }
  for (const f of ["stack", "delete"]) {
    if (v[f] !== undefined) throw new UsageError(`--${f} belongs to orphans`);
  }
  let topology;
  if (typeof v["stack-export"] === "string") {
    if (v.host !== undefined)
      throw new UsageError("give either --stack-export or a host, not both");
    const file = v["stack-export"];
    const text =
      file === "-"
        ? await readStdin()
        : await fs.readFile(file, "utf8").catch((e: NodeJS.ErrnoException) => {
            throw new UsageError(`--stack-export: cannot read ${file}: ${e.code ?? "error"}`);
          });
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`--stack-export: ${file} is not JSON: ${(e as Error).message}`);
    }
    topology = topologyFromStack(json);
  } else {
    topology = await readTopology(await hostFromFlags(v));
  }
  if (typeof v.svg === "string") {
    await fs.writeFile(v.svg, toSvg(topology));
    io.err(`wrote ${v.svg}`);
    return 0;
  }
  io.out(v.json ? JSON.stringify(topology, null, 2) : toMermaid(topology));
  return 0;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      process.stderr.write(`linuxnet: ${e.message}\n`);
      process.exit(2);
    },
  );
}
