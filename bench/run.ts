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
 * Operations: `up`, a second `up` with nothing to change (`no-change up`),
 * `refresh`, `destroy`. Every row says its ratio to the engine floor of the
 * same N, operation and run, and the CPU seconds of the engine, the program
 * and the dynamic-provider process (sampled from /proc), so a slow row shows
 * where its time went. It prints the load average beside the table: on a
 * shared machine the wall times are noisy, and only ratios within one run
 * mean much.
 *
 * It prints a table and the targets it checks (issues 5 and 17); it asserts nothing.
 *
 * With `--large` (`npm run bench -- --large`), it runs N=100 and N=1000
 * (2002 resources) with the engine floor and linuxnet only: long (tens of
 * minutes on 2 cores), so the default run leaves it out.
 *
 * With `--multi-host` (`npm run bench -- --multi-host`, or after the sizes:
 * `-- 10,50 --multi-host`), it also builds one VXLAN segment across 4 lab
 * hosts with 50 namespaces each, beside the same topology on 1 host with 200
 * namespaces, and prints `up`, `refresh` and `destroy` times and the SSH
 * connections per host. Without sizes, it runs only those rows.
 * `--multi-host=250` runs 4 hosts × 250 namespaces (2008 resources) beside
 * an engine floor of as many resources instead.
 */

import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ROOT, openStack } from "../lab/engine";
import { type Lab, type LabHost, startLab } from "../lab/labhost";

type Mode = "engine floor" | "linuxnet" | "dial per op" | "shell floor";
type Op = "up" | "no-change up" | "refresh" | "destroy";

/** The operations of every stack, in the order they run. */
const OPS: readonly Op[] = ["up", "no-change up", "refresh", "destroy"];

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
  cpu?: CpuSeconds;
}

/** Options of every engine operation. */
interface RunOptions {
  parallel?: number;
}

/**
 * What the command line set for every stack of the run, to measure what a
 * user can set (README "Large stacks"): `--parallel=N` (the engine's
 * `--parallel`), `--skip-checkpoints` (`PULUMI_SKIP_CHECKPOINTS=true`),
 * `--typescript` (the same program as TypeScript under ts-node, as `pulumi
 * new` makes it, instead of plain JavaScript).
 */
const SETTINGS: { opts: RunOptions; env: Record<string, string>; typescript: boolean } = {
  opts: {},
  env: {},
  typescript: false,
};

/** An operation's name as part of a file name. */
function slug(op: Op): string {
  return op.replace(/ /g, "-");
}

const WORK = fs.mkdtempSync(path.join(os.tmpdir(), "linuxnet-bench-"));

/** Runs one operation of a bench stack and returns its wall time in seconds; throws unless it succeeded. */
async function timed(
  stack: {
    stack: {
      up(o: RunOptions): Promise<Outcome>;
      refresh(o: RunOptions): Promise<Outcome>;
      destroy(o: RunOptions): Promise<Outcome>;
    };
  },
  op: Op,
  what: string,
): Promise<number> {
  const started = process.hrtime.bigint();
  const result =
    op === "up" || op === "no-change up"
      ? await stack.stack.up(SETTINGS.opts)
      : op === "refresh"
        ? await stack.stack.refresh(SETTINGS.opts)
        : await stack.stack.destroy(SETTINGS.opts);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.summary.result !== "succeeded") throw new Error(`${what}: ${result.summary.result}`);
  const changed = Object.keys(result.summary.resourceChanges ?? {}).filter((k) => k !== "same");
  if (op === "no-change up" && changed.length > 0) {
    throw new Error(`${what}: changed ${JSON.stringify(result.summary.resourceChanges)}`);
  }
  return seconds;
}

/** What an Automation API operation reports, as far as the bench looks. */
interface Outcome {
  summary: { result: string; resourceChanges?: Record<string, number> };
}

/** CPU seconds of the processes of one operation, by role. */
interface CpuSeconds {
  engine: number;
  program: number;
  provider: number;
}

/**
 * Watches the processes this bench starts (the CLI, the program, the engine's
 * dynamic-provider process) while an operation runs: their CPU seconds and
 * the provider's peak resident memory (VmHWM, the kernel's own peak, so a
 * sample just before exit sees the whole run). Sampled from /proc every
 * 200 ms: a process that lives less than that may be missed.
 */
function watchProcesses(): { stop(): { cpu: CpuSeconds; providerPeakMiB?: number } } {
  const seen = new Map<string, { role: keyof CpuSeconds; seconds: number; peakKiB: number }>();
  const me = String(process.pid);
  const sample = () => {
    const parents = new Map<string, string>();
    const stats = new Map<string, string[]>();
    for (const pid of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        parents.set(pid, fields[1]!);
        stats.set(pid, fields);
      } catch {
        // gone meanwhile
      }
    }
    const mine = (pid: string) => {
      for (
        let p: string | undefined = parents.get(pid), i = 0;
        p && i < 32;
        p = parents.get(p), i++
      )
        if (p === me) return true;
      return false;
    };
    for (const [pid, fields] of stats) {
      if (!mine(pid)) continue;
      try {
        const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
        const role: keyof CpuSeconds | undefined =
          /dynamic-provider|pulumi-resource-pulumi-nodejs/.test(cmd)
            ? "provider"
            : /cmd[\\/]run|pulumi-language-nodejs/.test(cmd)
              ? "program"
              : /[\\/]pulumi\s/.test(cmd)
                ? "engine"
                : undefined;
        if (!role) continue;
        const hwm = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        const ticks = Number(fields[11]) + Number(fields[12]);
        const before = seen.get(pid);
        seen.set(pid, {
          role: before?.role === "provider" ? "provider" : role,
          seconds: ticks / 100,
          peakKiB: Math.max(before?.peakKiB ?? 0, hwm ? Number(hwm[1]) : 0),
        });
      } catch {
        // gone meanwhile
      }
    }
  };
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      sample();
      const cpu: CpuSeconds = { engine: 0, program: 0, provider: 0 };
      let peak = 0;
      for (const p of seen.values()) {
        cpu[p.role] += p.seconds;
        if (p.role === "provider") peak = Math.max(peak, p.peakKiB);
      }
      return { cpu, providerPeakMiB: peak ? peak / 1024 : undefined };
    },
  };
}

/** The load average as `1 5 15` minutes. */
function loadAverage(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
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
  const statsFile = (op: Op) => path.join(WORK, `stats-${tag}-${slug(op)}.json`);
  const stack = await openStack({
    workDir: path.join(ROOT, "bench", SETTINGS.typescript ? "topology-ts" : "topology"),
    name: `bench-${tag}`,
    passphrase: "linuxnet-bench",
    fresh: true,
    env: { ...SETTINGS.env, ...(mode === "dial per op" ? { LINUXNET_DIAL_PER_COMMAND: "1" } : {}) },
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
    for (const op of OPS) {
      const logFile = path.join(WORK, `commands-${n}-${slug(op)}.sh`);
      // The workspace's environment goes to the CLI and from it to the provider process.
      Object.assign(stack.stack.workspace.envVars, {
        LINUXNET_STATS_FILE: statsFile(op),
        // The commands of the plain run are what the shell floor replays.
        LINUXNET_COMMAND_LOG: mode === "linuxnet" ? logFile : "",
      });
      const watch = watchProcesses();
      let watched: ReturnType<typeof watch.stop> | undefined;
      const seconds = await timed(stack, op, `${mode} ${op} N=${n}`).finally(() => {
        watched = watch.stop();
      });
      const { cpu, providerPeakMiB } = watched!;
      const stateKiB = op === "up" ? fs.statSync(stack.stateFile()).size / 1024 : undefined;
      const stats = readStats(statsFile(op));
      rows.push({
        n,
        mode,
        op,
        seconds,
        resources,
        stateKiB,
        ...stats,
        peakRssMiB: providerPeakMiB ?? stats.peakRssMiB,
        cpu,
      });
      console.error(
        `  ${mode.padEnd(12)} ${op.padEnd(12)} N=${n}: ${seconds.toFixed(1)} s (load ${loadAverage()})`,
      );
    }
  } finally {
    await stack.stack.destroy().catch(() => undefined);
    await stack.dispose();
  }
  return rows;
}

/** Replays the plain run's commands, in order, in one SSH session: what the work costs with no engine at all. */
function shellFloor(lab: Lab, host: LabHost, n: number): Row[] {
  return OPS.map((op) => {
    // A no-change up runs no command: its log is never written.
    const log = path.join(WORK, `commands-${n}-${slug(op)}.sh`);
    const script = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
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
      `  shell floor  ${op.padEnd(12)} N=${n}: ${seconds.toFixed(1)} s (${script.split("\n").length} lines)`,
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

/** CPU seconds as `engine/program/provider`. */
function cpuCell(cpu: CpuSeconds | undefined): string {
  return cpu ? [cpu.engine, cpu.program, cpu.provider].map((c) => c.toFixed(1)).join("/") : "-";
}

function table(rows: Row[]): string {
  const floorOf = (r: Row) =>
    rows.find((f) => f.n === r.n && f.op === r.op && f.mode === "engine floor");
  const head = [
    "N",
    "op",
    "mode",
    "wall s",
    "x floor",
    "cpu s engine/program/provider",
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
    floorOf(r) ? (r.seconds / floorOf(r)!.seconds).toFixed(2) : "-",
    cpuCell(r.cpu),
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
  // Issue 17: the engine is the only cost a user notices, at any size.
  const ratio = (n: number, op: Op) => {
    const ours = get(n, "linuxnet", op),
      floor = get(n, "engine floor", op);
    return ours && floor ? ours.seconds / floor.seconds : undefined;
  };
  const atMost = (what: string, value: number | undefined, limit: number) =>
    check(what, value, `<= ${limit}`, value === undefined ? undefined : value <= limit);
  atMost("up at N=100 / engine floor (issue 17)", ratio(100, "up"), 1.2);
  atMost("no-change up at N=100 / engine floor", ratio(100, "no-change up"), 1.1);
  atMost("refresh at N=100 / engine floor", ratio(100, "refresh"), 1.3);
  atMost("destroy at N=100 / engine floor", ratio(100, "destroy"), 1.2);
  atMost("up at N=1000 / engine floor", ratio(1000, "up"), 1.3);
  const up1000 = get(1000, "linuxnet", "up");
  atMost(
    "time(1000) / time(100), up",
    up1000 && up100 ? up1000.seconds / up100.seconds : undefined,
    11,
  );
  const peaks = rows
    .filter((r) => r.n === 1000 && r.mode === "linuxnet" && r.peakRssMiB !== undefined)
    .map((r) => r.peakRssMiB!);
  atMost("provider peak MiB at N=1000", peaks.length ? Math.max(...peaks) : undefined, 400);
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

/** One row of the multi-host benchmark; `hosts` 0 is the engine floor of as many resources. */
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
  cpu?: CpuSeconds;
}

/** `hosts` hosts × `perHost` namespaces on one VXLAN segment: every operation. */
async function runMultiHost(all: LabHost[], hosts: number, perHost: number): Promise<MultiRow[]> {
  const tag = `multi-${hosts}x${perHost}`;
  const statsFile = (op: Op) => path.join(WORK, `stats-${tag}-${slug(op)}.json`);
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
    env: SETTINGS.env,
    config: {
      perHost: { value: String(perHost) },
      hostCount: { value: String(hosts) },
      hosts: { value: JSON.stringify(connections), secret: true },
    },
  });
  const rows: MultiRow[] = [];
  const resources = hosts * (2 * perHost + 2);
  try {
    for (const op of OPS) {
      Object.assign(stack.stack.workspace.envVars, {
        LINUXNET_STATS_FILE: statsFile(op),
        LINUXNET_COMMAND_LOG: "",
      });
      const watch = watchProcesses();
      let watched: ReturnType<typeof watch.stop> | undefined;
      const seconds = await timed(stack, op, `${tag} ${op}`).finally(() => {
        watched = watch.stop();
      });
      const stats = readStats(statsFile(op));
      rows.push({
        hosts,
        perHost,
        op,
        seconds,
        resources,
        ...stats,
        peakRssMiB: watched!.providerPeakMiB ?? stats.peakRssMiB,
        cpu: watched!.cpu,
      });
      console.error(
        `  ${tag.padEnd(14)} ${op.padEnd(12)}: ${seconds.toFixed(1)} s (load ${loadAverage()})`,
      );
    }
  } finally {
    await stack.stack.destroy().catch(() => undefined);
    await stack.dispose();
  }
  return rows;
}

function multiTable(rows: MultiRow[]): string {
  const floorOf = (r: MultiRow) =>
    rows.find((f) => f.hosts === 0 && f.op === r.op && f.resources === r.resources);
  const head = [
    "hosts x namespaces",
    "op",
    "resources",
    "wall s",
    "x floor",
    "cpu s engine/program/provider",
    "ms/resource",
    "conns",
    "conns/host",
    "channels",
    "commands",
    "provider peak MiB",
  ];
  const lines = rows.map((r) => [
    r.hosts === 0 ? "engine floor" : `${r.hosts} x ${r.perHost}`,
    r.op,
    String(r.resources),
    r.seconds.toFixed(2),
    r.hosts !== 0 && floorOf(r) ? (r.seconds / floorOf(r)!.seconds).toFixed(2) : "-",
    cpuCell(r.cpu),
    ((r.seconds * 1000) / r.resources).toFixed(1),
    r.connections?.toString() ?? "-",
    r.connections === undefined || r.hosts === 0 ? "-" : (r.connections / r.hosts).toFixed(1),
    r.channels?.toString() ?? "-",
    r.commands?.toString() ?? "-",
    r.peakRssMiB?.toFixed(0) ?? "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [fmt(head), fmt(widths.map((w) => "-".repeat(w))), ...lines.map(fmt)].join("\n");
}

/**
 * The multi-host rows: 4 hosts × `perHost` namespaces on one segment, beside
 * the engine floor of as many resources; with the default 50, also 1 host ×
 * 200 (the same namespaces on one host).
 */
async function multiHost(perHost: number): Promise<MultiRow[]> {
  const lab = await startLab({
    id: "vxb",
    hosts: [{ name: "h1" }, { name: "h2" }, { name: "h3" }, { name: "h4" }],
  });
  const rows: MultiRow[] = [];
  try {
    console.error(`multi-host: one VXLAN segment, 4 x ${perHost}`);
    const resources = 4 * (2 * perHost + 2);
    // The floor's topology has 2n + 2 resources.
    const floor = await runEngine(lab.hosts[0]!, (resources - 2) / 2, "engine floor");
    rows.push(...floor.map((r) => ({ ...r, hosts: 0, perHost: 0 })));
    rows.push(...(await runMultiHost(lab.hosts, 4, perHost)));
    if (perHost === 50) rows.push(...(await runMultiHost(lab.hosts, 1, 200)));
  } finally {
    await lab.teardown();
  }
  return rows;
}

/** The run's header: when, where, and how loaded the machine was (timings are only as good as that). */
function header(what: string, loadBefore: string): string {
  const engine = execFileSync(
    path.join(process.env.LINUXNET_ENGINE_BIN ?? "", "pulumi"),
    ["version"],
    {
      encoding: "utf8",
    },
  ).trim();
  const set = [
    SETTINGS.opts.parallel ? `--parallel ${SETTINGS.opts.parallel}` : "default parallelism",
    SETTINGS.env.PULUMI_SKIP_CHECKPOINTS ? "PULUMI_SKIP_CHECKPOINTS=true" : "checkpoints on",
    SETTINGS.typescript ? "TypeScript program (ts-node)" : "JavaScript program",
  ].join(", ");
  return [
    `${what}: ${new Date().toISOString()}, ${os.cpus().length} cores, pulumi ${engine}, ${set}`,
    `load average (1 5 15 min) before: ${loadBefore}, after: ${loadAverage()}. Other work on the machine`,
    `makes wall times noisy: compare a row with its engine floor of the same run (x floor), not across runs.`,
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
  const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  let multi: number | undefined;
  let large = false;
  for (const flag of flags) {
    const [name, value] = flag.split("=", 2) as [string, string | undefined];
    if (name === "--multi-host") multi = value ? Number(value) : 50;
    else if (name === "--large") large = true;
    else if (name === "--parallel") SETTINGS.opts.parallel = Number(value);
    else if (name === "--skip-checkpoints") SETTINGS.env.PULUMI_SKIP_CHECKPOINTS = "true";
    else if (name === "--typescript") SETTINGS.typescript = true;
    else throw new Error(`unknown option ${flag}`);
  }
  if (multi !== undefined && args.length === 0 && !large) {
    const rows = await multiHost(multi).finally(() =>
      fs.rmSync(WORK, { recursive: true, force: true }),
    );
    console.log(header("linuxnet multi-host benchmark, lab hosts on one fabric", loadBefore));
    console.log(multiTable(rows));
    return;
  }
  const sizes = large ? [100, 1000] : (args[0] ?? "10,50,100,200").split(",").map(Number);
  // A second argument limits the modes, e.g. "linuxnet,engine floor", to iterate quickly.
  const only = large ? ["engine floor", "linuxnet"] : args[1]?.split(",");
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
    if (multi === undefined) fs.rmSync(WORK, { recursive: true, force: true });
  }
  const order: Mode[] = ["engine floor", "linuxnet", "shell floor", "dial per op"];
  rows.sort(
    (a, b) =>
      a.n - b.n ||
      OPS.indexOf(a.op) - OPS.indexOf(b.op) ||
      order.indexOf(a.mode) - order.indexOf(b.mode),
  );
  console.log(header("linuxnet benchmark, one local lab host over loopback-like veth", loadBefore));
  console.log(table(rows));
  console.log("");
  for (const line of targets(rows)) console.log(line);
  if (multi !== undefined) {
    console.log("");
    console.log(
      multiTable(
        await multiHost(multi).finally(() => fs.rmSync(WORK, { recursive: true, force: true })),
      ),
    );
  }
}

main().catch((e: Error) => {
  console.error(`bench: ${e.stack ?? e.message}`);
  process.exit(1);
});
