#!/usr/bin/env node
/**
 * Command line for lab hosts: start a lab and leave it running for the demo, a benchmark
 * or manual poking, see what is running, and tear it down.
 *
 * ```
 * node dist/lab/cli.js up [--id ID] [--hosts h1,up] [--sudo h1] [--fabric CIDR] [--json]
 * node dist/lab/cli.js down [--id ID | --all]
 * node dist/lab/cli.js status [--id ID]
 * ```
 *
 * A thin entry point: all the work is in ./labhost.
 */
import { parseArgs } from "node:util";
import {
  cleanupAllLabs,
  cleanupLab,
  hostStatus,
  labToJson,
  readLabJson,
  startLab,
  type LabHostSpec,
} from "./labhost";

export const USAGE = `usage:
  cli up [--id ID] [--hosts h1,h2] [--sudo h1] [--fabric CIDR] [--json]
  cli down [--id ID | --all]
  cli status [--id ID]
ID defaults to $LINUXNET_LAB_ID or "main", --hosts to h1,h2; the fabric to
$LINUXNET_LAB_FABRIC or a /24 in 10.213.0.0/16 derived from the id. --sudo hosts also
accept the user lnlab with passwordless sudo -n.`;

/** A command-line mistake: print usage, exit 2. */
class UsageError extends Error {}

function defaultId(): string {
  return process.env.LINUXNET_LAB_ID ?? "main";
}

function list(value: string | undefined): string[] {
  return (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

/**
 * Runs the CLI with `args` (without node and script); resolves with the exit code.
 * Output goes to stdout, diagnostics to stderr.
 */
export async function main(args: string[]): Promise<number> {
  // node:util parseArgs is enough for three flat subcommands; no dependency needed.
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        id: { type: "string" },
        hosts: { type: "string" },
        sudo: { type: "string" },
        fabric: { type: "string" },
        json: { type: "boolean" },
        all: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError("expected exactly one command");
  const id = values.id ?? defaultId();

  switch (positionals[0]) {
    case "up": {
      const names = values.hosts === undefined ? ["h1", "h2"] : list(values.hosts);
      if (names.length === 0) throw new UsageError("--hosts names no host");
      const sudo = new Set(list(values.sudo));
      for (const s of sudo) {
        if (!names.includes(s)) throw new UsageError(`--sudo ${s} is not one of --hosts`);
      }
      const hosts: LabHostSpec[] = names.map((name) => ({ name, sudoUser: sudo.has(name) }));
      const lab = await startLab({
        id,
        hosts,
        ...(values.fabric ? { fabric: values.fabric } : {}),
      });
      if (values.json) {
        // The same document startLab wrote to <stateDir>/lab.json.
        process.stdout.write(JSON.stringify(labToJson(lab), null, 2) + "\n");
        return 0;
      }
      process.stdout.write(
        `lab ${lab.id}: fabric ${lab.fabric}, root side ${lab.gateway} on ${lab.link}\n`,
      );
      for (const h of lab.hosts) {
        const sudoNote = h.sudoUser ? ` (also ${h.sudoUser}@ with sudo -n)` : "";
        process.stdout.write(
          `${h.name}  ${h.address}  ${h.hostKeyFingerprint}${sudoNote}\n` +
            `    ssh -i ${h.privateKeyPath} -o UserKnownHostsFile=${lab.knownHostsPath} ` +
            `root@${h.address}\n`,
        );
      }
      process.stdout.write(
        `description: ${lab.stateDir}/lab.json; stop with: cli down --id ${id}\n`,
      );
      return 0;
    }
    case "down":
      if (values.all && values.id !== undefined)
        throw new UsageError("--all and --id exclude each other");
      if (values.all) await cleanupAllLabs();
      else await cleanupLab(id);
      return 0;
    case "status": {
      const lab = await readLabJson(id);
      if (!lab) {
        process.stdout.write(`lab ${id}: not running (no state)\n`);
        return 1;
      }
      let allUp = true;
      process.stdout.write(`lab ${lab.id}: fabric ${lab.fabric}, root side ${lab.gateway}\n`);
      for (const h of lab.hosts) {
        const s = await hostStatus(h);
        const state = s.accepting ? "up" : s.running ? "starting" : "down";
        allUp &&= s.accepting;
        process.stdout.write(`${h.name}  ${h.address}  ${state}\n`);
      }
      return allUp ? 0 : 1;
    }
    default:
      throw new UsageError(`unknown command ${JSON.stringify(positionals[0])}`);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      if (e instanceof UsageError) {
        process.stderr.write(`${e.message}\n${USAGE}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exitCode = 1;
      }
    },
  );
}
