#!/usr/bin/env node
/**
 * The benchmark of issue 5: `npm run bench [-- 10,50,100,200]`. On one local
 * lab host, for each N, the real engine runs `up`, `refresh` and `destroy`
 * on a topology of N namespaces, each with a veth to one bridge, plus NAT,
 * and side by side, in the same run on the same host:
 *
 * - engine floor: as many dynamic resources that do nothing;
 * - dial per op: our resources, every command over a new SSH connection;
 * - shell floor: the very same commands, replayed in one plain SSH session.
 *
 * It prints a table and the targets it checks; it asserts nothing.
 *
 * With `--multi-host` (`npm run bench -- --multi-host`, or after the sizes:
 * `-- 10,50 --multi-host`), it also builds one VXLAN segment across 4 lab
 * hosts with 50 namespaces each, beside the same topology on 1 host with 200
 * namespaces, and prints `up`, `refresh` and `destroy` times and the SSH
 * connections per host. Without sizes, it runs only those rows.
 */

import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, openStack } from "../lab/engine";
import { type Lab, type LabHost, startLab } from "../lab/labhost";

type Mode = "engine floor" | "linuxnet" | "dial per op" | "shell floor";
type Op = "up" | "refresh" | "destroy";

interface Row {
  n: number;
  mode: Mode;
  op: Op;
  seconds: number;
  resources: number;
  connections?: number;
  channels?: number;
  commands?: number;
  peakRssMiB?: number;
  stateKiB?: number;
}

const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "linuxnet-bench-"));

/** Runs one operation of a bench stack and returns its wall time in seconds; throws unless it succeeded. */
async function timed(
  stack: {
    stack: { up(): Promise<Outcome>; refresh(): Promise<Outcome>; destroy(): Promise<Outcome> };
  },
  op: Op,
  what: string,
): Promise<number> {
  const started = process.hrtime.bigint();
  const result =
    op === "up"
      ? await stack.stack.up()
      : op === "refresh"
        ? await stack.stack.refresh()
        : await stack.stack.destroy();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.summary.result !== "succeeded") throw new Error(`${what}: ${result.summary.result}`);
  return seconds;
}

/** What an Automation API operation reports, as far as the bench looks. */
interface Outcome {
  summary: { result: string };
}

function readStats(file: string) {
  if (!fs.existsSync(file)) return {};
  const s = JSON.parse(fs.readFileSync(file, "utf8"));
  return {
    connections: s.connections,
    channels: s.channels,
    commands: s.commands,
    peakRssMiB: s.peakRssKiB / 1024,
  };
}

async function runEngine(
  host: LabHost,
  n: number,
  mode: Exclude<Mode, "shell floor">,
): Promise<Row[]> {
  const tag = `${mode.replace(/ /g, "-")}-${n}`;
  const statsFile = (op: Op) => path.join(WORK, `stats-${tag}-${op}.json`);
  const stack = await openStack({
    workDir: path.join(ROOT, "bench", "topology"),
    name: `bench-${tag}`,
    passphrase: "linuxnet-bench",
    fresh: true,
    env: mode === "dial per op" ? { LINUXNET_DIAL_PER_COMMAND: "1" } : {},
    config: {
      n: { value: String(n) },
      mode: { value: mode === "engine floor" ? "noop" : "linuxnet" },
      "linuxnet:host": { value: host.address },
      "linuxnet:privateKey": { value: host.privateKey, secret: true },
      "linuxnet:hostKey": { value: host.hostKey },
    },
  });
  const rows: Row[] = [];
  const resources = 2 * n + 2;
  try {
    for (const op of ["up", "refresh", "destroy"] as Op[]) {
      const logFile = path.join(WORK, `commands-${n}-${op}.sh`);
      // The workspace's environment goes to the CLI and from it to the provider process.
      Object.assign(stack.stack.workspace.envVars, {
        LINUXNET_STATS_FILE: statsFile(op),
        // The commands of the plain run are what the shell floor replays.
        LINUXNET_COMMAND_LOG: mode === "linuxnet" ? logFile : "",
      });
      const seconds = await timed(stack, op, `${mode} ${op} N=${n}`);
      const stateKiB = op === "up" ? fs.statSync(stack.stateFile()).size / 1024 : undefined;
      rows.push({ n, mode, op, seconds, resources, stateKiB, ...readStats(statsFile(op)) });
      console.error(`  ${mode.padEnd(12)} ${op.padEnd(8)} N=${n}: ${seconds.toFixed(1)} s`);
    }
  } finally {
    await stack.stack.destroy().catch(() => undefined);
    await stack.dispose();
  }
  return rows;
}

/** Replays the plain run's commands, in order, in one SSH session: what the work costs with no engine at all. */
function shellFloor(lab: Lab, host: LabHost, n: number): Row[] {
  return (["up", "refresh", "destroy"] as Op[]).map((op) => {
    const script = fs.readFileSync(path.join(WORK, `commands-${n}-${op}.sh`), "utf8");
    const started = process.hrtime.bigint();
    const r = spawnSync(
      "ssh",
      [
        "-i",
        host.privateKeyPath,
        "-o",
        `UserKnownHostsFile=${lab.knownHostsPath}`,
        "-o",
        "BatchMode=yes",
        `root@${host.address}`,
        "sh",
        "-s",
      ],
      { input: script, encoding: "utf8" },
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (r.status === null) throw new Error(`shell floor ${op}: ssh did not finish`);
    console.error(
      `  shell floor  ${op.padEnd(8)} N=${n}: ${seconds.toFixed(1)} s (${script.split("\n").length} lines)`,
    );
    return {
      n,
      mode: "shell floor" as Mode,
      op,
      seconds,
      resources: 2 * n + 2,
      connections: 1,
      channels: 1,
    };
  });
}

function table(rows: Row[]): string {
  const head = [
    "N",
    "op",
    "mode",
    "wall s",
    "ms/resource",
    "conns",
    "channels",
    "commands",
    "provider peak MiB",
    "state KiB",
  ];
  const lines = rows.map((r) => [
    String(r.n),
    r.op,
    r.mode,
    r.seconds.toFixed(2),
    ((r.seconds * 1000) / r.resources).toFixed(1),
    r.connections?.toString() ?? "-",
    r.channels?.toString() ?? "-",
    r.commands?.toString() ?? "-",
    r.peakRssMiB?.toFixed(0) ?? "-",
    r.stateKiB?.toFixed(0) ?? "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n");
}

function targets(rows: Row[]): string[] {
  const get = (n: number, mode: Mode, op: Op) =>
    rows.find((r) => r.n === n && r.mode === mode && r.op === op);
  const out: string[] = [];
  const check = (what: string, value: number | undefined, limit: string, ok: boolean | undefined) =>
    out.push(
      `${ok ? "met    " : ok === undefined ? "n/a    " : "MISSED "} ${what}: ${value === undefined ? "-" : value.toFixed(2)} (target ${limit})`,
    );
  const up100 = get(100, "linuxnet", "up"),
    floor100 = get(100, "engine floor", "up"),
    dial100 = get(100, "dial per op", "up");
  const r100 = up100 && floor100 ? up100.seconds / floor100.seconds : undefined;
  check("up at N=100 / engine floor", r100, "<= 1.5", r100 === undefined ? undefined : r100 <= 1.5);
  const d100 = up100 && dial100 ? dial100.seconds / up100.seconds : undefined;
  check(
    "dial per op / linuxnet, up at N=100",
    d100,
    ">= 5",
    d100 === undefined ? undefined : d100 >= 5,
  );
  const conns = rows.filter((r) => r.mode === "linuxnet").map((r) => r.connections ?? 0);
  const maxConn = conns.length ? Math.max(...conns) : undefined;
  check(
    "SSH connections per host per operation (max)",
    maxConn,
    "= 1",
    maxConn === undefined ? undefined : maxConn === 1,
  );
  const up200 = get(200, "linuxnet", "up"),
    up50 = get(50, "linuxnet", "up");
  const scale = up200 && up50 ? up200.seconds / up50.seconds : undefined;
  check(
    "time(200) / time(50), up",
    scale,
    "<= 4.5",
    scale === undefined ? undefined : scale <= 4.5,
  );
  const perResource = rows
    .filter((r) => r.mode === "linuxnet" && r.stateKiB)
    .map((r) => (r.stateKiB! * 1024) / r.resources);
  const worst = perResource.length ? Math.max(...perResource) / 1024 : undefined;
  check(
    "state file KiB per resource (max)",
    worst,
    "<= 3",
    worst === undefined ? undefined : worst <= 3,
  );
  return out;
}

/** One row of the multi-host benchmark. */
interface MultiRow {
  hosts: number;
  perHost: number;
  op: Op;
  seconds: number;
  resources: number;
  connections?: number;
  channels?: number;
  commands?: number;
  peakRssMiB?: number;
}

/** `hosts` hosts × `perHost` namespaces on one VXLAN segment: up, refresh, destroy. */
async function runMultiHost(all: LabHost[], hosts: number, perHost: number): Promise<MultiRow[]> {
  const tag = `multi-${hosts}x${perHost}`;
  const statsFile = (op: Op) => path.join(WORK, `stats-${tag}-${op}.json`);
  const connections = all.slice(0, hosts).map((h) => ({
    host: h.address,
    privateKey: h.privateKey,
    hostKey: h.hostKey,
  }));
  const stack = await openStack({
    workDir: path.join(ROOT, "bench", "multihost"),
    name: `bench-${tag}`,
    passphrase: "linuxnet-bench",
    fresh: true,
    config: {
      perHost: { value: String(perHost) },
      hostCount: { value: String(hosts) },
      hosts: { value: JSON.stringify(connections), secret: true },
    },
  });
  const rows: MultiRow[] = [];
  const resources = hosts * (2 * perHost + 2);
  try {
    for (const op of ["up", "refresh", "destroy"] as Op[]) {
      Object.assign(stack.stack.workspace.envVars, {
        LINUXNET_STATS_FILE: statsFile(op),
        LINUXNET_COMMAND_LOG: "",
      });
      const seconds = await timed(stack, op, `${tag} ${op}`);
      rows.push({ hosts, perHost, op, seconds, resources, ...readStats(statsFile(op)) });
      console.error(`  ${tag.padEnd(14)} ${op.padEnd(8)}: ${seconds.toFixed(1)} s`);
    }
  } finally {
    await stack.stack.destroy().catch(() => undefined);
    await stack.dispose();
  }
  return rows;
}

function multiTable(rows: MultiRow[]): string {
  const head = [
    "hosts x namespaces",
    "op",
    "resources",
    "wall s",
    "ms/resource",
    "conns",
    "conns/host",
    "channels",
    "commands",
    "provider peak MiB",
  ];
  const lines = rows.map((r) => [
    `${r.hosts} x ${r.perHost}`,
    r.op,
    String(r.resources),
    r.seconds.toFixed(2),
    ((r.seconds * 1000) / r.resources).toFixed(1),
    r.connections?.toString() ?? "-",
    r.connections === undefined ? "-" : (r.connections / r.hosts).toFixed(1),
    r.channels?.toString() ?? "-",
    r.commands?.toString() ?? "-",
    r.peakRssMiB?.toFixed(0) ?? "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n");
}

/** The multi-host rows: 4 hosts × 50 namespaces on one segment, beside 1 host × 200. */
async function multiHost(): Promise<MultiRow[]> {
  const lab = await startLab({
    id: "vxb",
    hosts: [{ name: "h1" }, { name: "h2" }, { name: "h3" }, { name: "h4" }],
  });
  const rows: MultiRow[] = [];
  try {
    console.error("multi-host: one VXLAN segment");
    rows.push(...(await runMultiHost(lab.hosts, 4, 50)));
    rows.push(...(await runMultiHost(lab.hosts, 1, 200)));
  } finally {
    await lab.teardown();
  }
  return rows;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== "--multi-host");
  const withMultiHost = args.length !== process.argv.length - 2;
  if (withMultiHost && args.length === 0) {
    const rows = await multiHost().finally(() => fs.rmSync(WORK, { recursive: true, force: true }));
    console.log(
      `linuxnet multi-host benchmark: ${new Date().toISOString()}, ${os.cpus().length} cores, lab hosts on one fabric\n`,
    );
    console.log(multiTable(rows));
    return;
  }
  const sizes = (args[0] ?? "10,50,100,200").split(",").map(Number);
  // A second argument limits the modes, e.g. "linuxnet,engine floor", to iterate quickly.
  const only = args[1]?.split(",");
  const wanted = (mode: Mode) => !only || only.includes(mode);
  const lab = await startLab({ id: "bench", hosts: [{ name: "h1" }] });
  const host = lab.host("h1");
  const rows: Row[] = [];
  try {
    for (const n of sizes) {
      console.error(`N=${n}`);
      if (wanted("engine floor")) rows.push(...(await runEngine(host, n, "engine floor")));
      if (wanted("linuxnet")) rows.push(...(await runEngine(host, n, "linuxnet")));
      if (wanted("linuxnet") && wanted("shell floor")) rows.push(...shellFloor(lab, host, n));
      if (wanted("dial per op")) rows.push(...(await runEngine(host, n, "dial per op")));
    }
  } finally {
    await lab.teardown();
    if (!withMultiHost) fs.rmSync(WORK, { recursive: true, force: true });
  }
  const order: Mode[] = ["engine floor", "linuxnet", "shell floor", "dial per op"];
  rows.sort(
    (a, b) =>
      a.n - b.n || a.op.localeCompare(b.op) || order.indexOf(a.mode) - order.indexOf(b.mode),
  );
  const cpu = os.cpus().length;
  console.log(
    `linuxnet benchmark: ${new Date().toISOString()}, ${cpu} cores, pulumi ${execFileSync(path.join(process.env.LINUXNET_ENGINE_BIN ?? "", "pulumi"), ["version"], { encoding: "utf8" }).trim()}, one local lab host over loopback-like veth\n`,
  );
  console.log(table(rows));
  console.log("");
  for (const line of targets(rows)) console.log(line);
  if (withMultiHost) {
    console.log("");
    console.log(
      multiTable(
        await multiHost().finally(() => fs.rmSync(WORK, { recursive: true, force: true })),
      ),
    );
  }
}

main().catch((e: Error) => {
  console.error(`bench: ${e.stack ?? e.message}`);
  process.exit(1);
});
