/**
 * The batched read of a refresh: the one-command host dump (its script, run
 * by a real `sh` against stand-in `ip` and `iptables`), its parser, the cache
 * that shares it between the reads of a refresh, and the snapshot reader,
 * which must answer exactly as the per-object live reads do.
 *
 * The fixtures at the end of this file were captured on a real host
 * (iproute2 6.1, iptables 1.8.9 nf_tables, kernel 6.x): the snapshot's output
 * and, from the same host state, the output of every command the live reader
 * ran for the questions below.
 */

import { execFileSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CommandError } from "../../../provider/errors";
import {
  type HostReader,
  liveReader,
  prefixKey,
  routesTo,
  snapshotReader,
  tableId,
} from "../../../provider/host/reader";
import {
  type HostSnapshot,
  SECTION_COMMANDS,
  SnapshotCache,
  SnapshotParseError,
  parseHostSnapshot,
  readHostSnapshot,
  snapshotArgv,
} from "../../../provider/host/snapshot";
import type { CommandResult, Host } from "../../../provider/transport";
import { bridgeKind } from "../../../provider/resources/bridge";
import { namespaceKind } from "../../../provider/resources/namespace";
import { natKind } from "../../../provider/resources/nat";
import { routeKind } from "../../../provider/resources/route";
import { vethKind } from "../../../provider/resources/veth";
import { labelled } from "../support";

const M = "linuxnet-snapshot-0123456789abcdef";

/** Our nftables table as `nft -j list table inet linuxnet` printed it (nft 1.0.6), one line. */
const NFT_TABLE_JSON = JSON.stringify({
  nftables: [
    { metainfo: { version: "1.0.6", release_name: "Lester Gooch #5", json_schema_version: 1 } },
    { table: { family: "inet", name: "linuxnet", handle: 1 } },
    {
      chain: {
        ...{ family: "inet", table: "linuxnet", name: "postrouting", handle: 1, type: "nat" },
        ...{ hook: "postrouting", prio: 100, policy: "accept" },
      },
    },
    {
      rule: {
        ...{ family: "inet", table: "linuxnet", chain: "postrouting", handle: 2 },
        comment: "linuxnet:nat-0a1b2c3d:fwd",
        expr: [
          {
            match: {
              op: "==",
              left: { payload: { protocol: "ip", field: "saddr" } },
              right: { prefix: { addr: "10.0.0.0", len: 24 } },
            },
          },
          { match: { op: "==", left: { meta: { key: "oifname" } }, right: "eth0" } },
          { masquerade: null },
        ],
      },
    },
  ],
});

/**
 * The snapshot's output (fixture below, captured before the dump read our nftables
 * table), with an `nftables` section before each namespace's `nat`: our table with
 * one masquerade rule, as nft printed it.
 */
const DUMP = capturedDump().replace(
  new RegExp(`(${M} begin nat\\n)`, "g"),
  `${M} begin nftables\n${NFT_TABLE_JSON}\n\n${M} stderr nftables\n${M} end nftables 0\n$1`,
);
/** The live reader's commands on the same host state, and what each printed (fixture below). */
const LIVE = withLinkDetails(capturedLiveAnswers());

/**
 * The live reader reads a link with `ip -json -details addr show dev X` since it was
 * captured: that command prints the link's details (as `-details link show`) with its
 * `addr_info` (as `addr show`), so its answer is the two captured answers put together.
 */
function withLinkDetails(answers: Record<string, CommandResult>): Record<string, CommandResult> {
  const out = { ...answers };
  for (const [key, linkAnswer] of Object.entries(answers)) {
    const argv = JSON.parse(key) as string[];
    const at = argv.indexOf("-details");
    if (at < 0 || argv[at + 1] !== "link" || argv[at + 2] !== "show") continue;
    const detailsArgv = [...argv.slice(0, at + 1), "addr", ...argv.slice(at + 2)];
    const addrArgv = [...argv.slice(0, at), "addr", ...argv.slice(at + 2)];
    const addrAnswer = answers[JSON.stringify(addrArgv)];
    if (linkAnswer.exitCode !== 0 || !addrAnswer) {
      out[JSON.stringify(detailsArgv)] = linkAnswer;
      continue;
    }
    const [link] = JSON.parse(linkAnswer.stdout) as Record<string, unknown>[];
    const [addr] = JSON.parse(addrAnswer.stdout) as { addr_info?: unknown[] }[];
    out[JSON.stringify(detailsArgv)] = {
      ...linkAnswer,
      stdout: JSON.stringify([{ ...link, addr_info: addr?.addr_info ?? [] }]) + "\n",
    };
  }
  return out;
}
/** The dump, with a namespace deleted between `ip netns list` and `ip netns exec` (its real words). */
const VANISHED_DUMP = DUMP.replace(
  `${M} netns ns-green\n`,
  `${M} netns ns-gone\n\n${M} unreachable 255\nCannot open network namespace "ns-gone": No such file or directory\n${M} netns ns-green\n`,
);

/** A host whose commands `run` answers, one at a time, recording each. */
function fakeHost(
  run: (argv: readonly string[]) => Promise<CommandResult>,
): Host & { ran: string[][] } {
  const ran: string[][] = [];
  const runOne = (argv: readonly string[]) => {
    ran.push([...argv]);
    return run(argv);
  };
  const runOk = async (argv: readonly string[]) => {
    const r = await runOne(argv);
    if (r.exitCode !== 0) throw new CommandError("10.1.0.2", argv, r.exitCode, r.stdout, r.stderr);
    return r;
  };
  const steps = async (all: readonly (readonly string[])[], each: typeof runOne) => {
    const results: CommandResult[] = [];
    for (const argv of all) results.push(await each(argv));
    return results;
  };
  return {
    name: "10.1.0.2",
    ran,
    run: runOne,
    runOk,
    runSteps: (all) => steps(all, runOne),
    runStepsOk: (all) => steps(all, runOk),
  };
}

/** A host that answers the recorded commands and nothing else. */
function recordedHost(answers: Record<string, CommandResult>): Host & { ran: string[][] } {
  return fakeHost(async (argv) => {
    const answer = answers[JSON.stringify(argv)];
    if (!answer) throw new Error(`unexpected command ${JSON.stringify(argv)}`);
    return answer;
  });
}

/** Replaces one part of a dump's text (a fixture variant); fails when the part is not there. */
function edit(text: string, from: string, to: string): string {
  expect(text).toContain(from);
  return text.replace(from, to);
}

/** An answer, or the error's message, so that answers and failures compare alike. */
async function outcome<T>(p: Promise<T>): Promise<{ value?: T; error?: string }> {
  return p.then(
    (value) => ({ value }),
    (e: Error) => ({ error: e.message }),
  );
}

describe("parseHostSnapshot", () => {
  const snapshot = parseHostSnapshot(DUMP, "10.1.0.2");

  it("reads the host's own namespace and every listed one, in the listing's order", () => {
    expect(snapshot.host).toBe("10.1.0.2");
    expect(snapshot.own.name).toBeUndefined();
    expect([...snapshot.namespaces.keys()]).toEqual(["ns-green", "ns-blue"]);
    expect(snapshot.listing).toBeUndefined();
    for (const dump of [snapshot.own, ...snapshot.namespaces.values()]) {
      expect(Object.keys(dump.sections).sort()).toEqual(Object.keys(SECTION_COMMANDS).sort());
      for (const out of Object.values(dump.sections)) {
        expect(out).toMatchObject({ stderr: "", exitCode: 0 });
      }
    }
  });

  it("keeps each command's output exactly as it was printed", () => {
    const blue = snapshot.namespaces.get("ns-blue")!;
    expect(JSON.parse(blue.sections.link!.stdout).map((l: { ifname: string }) => l.ifname)).toEqual(
      ["lo", "veth-blue"],
    );
    expect(blue.sections.ip_forward!.stdout).toBe("0\n");
    expect(snapshot.own.sections.ip_forward!.stdout).toBe("1\n");
    expect(snapshot.own.sections.filter!.stdout).toBe(
      [
        "-P INPUT ACCEPT",
        "-P FORWARD ACCEPT",
        "-P OUTPUT ACCEPT",
        '-A FORWARD -i br0 -o br0 -m comment --comment "linuxnet:bridge:br0" -j ACCEPT',
        String.raw`-A FORWARD -m comment --comment "someone else\'s rule" -j ACCEPT`,
        "",
      ].join("\n"),
    );
  });

  it.each(
    labelled([
      { label: "output without a final newline", stdout: "[]", printed: "[]" },
      { label: "output with a final newline", stdout: "[]\n", printed: "[]\n" },
      { label: "no output at all", stdout: "", printed: "" },
      { label: "several lines and blank ones", stdout: "a\n\nb\n", printed: "a\n\nb\n" },
    ]),
  )("gives back %s unchanged", (_label, { stdout, printed }) => {
    // What the script prints: the output, then a newline of its own before the stderr marker.
    const text = [`${M} snapshot 1`, `${M} host`, `${M} begin nat`, `${stdout}\n${M} stderr nat`]
      .concat([`${M} end nat 0`, `${M} done`, ""])
      .join("\n");
    expect(parseHostSnapshot(text).own.sections.nat!.stdout).toBe(printed);
  });

  it("keeps a failed command's exit code and its words apart from its output", () => {
    const text = edit(
      DUMP,
      `${M} begin nat\n-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n\n${M} stderr nat\n${M} end nat 0\n${M} begin filter\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n\n${M} stderr filter\n${M} end filter 0\n${M} begin ip_forward\n0\n\n${M} stderr ip_forward\n${M} end ip_forward 0\n${M} netns ns-blue`,
      `${M} begin nat\n\n${M} stderr nat\nsh: 1: iptables: not found\n${M} end nat 127\n${M} begin filter\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n\n${M} stderr filter\n${M} end filter 0\n${M} begin ip_forward\n0\n\n${M} stderr ip_forward\n${M} end ip_forward 0\n${M} netns ns-blue`,
    );
    const green = parseHostSnapshot(text).namespaces.get("ns-green")!;
    expect(green.sections.nat).toEqual({
      stdout: "",
      stderr: "sh: 1: iptables: not found",
      exitCode: 127,
    });
    expect(green.sections.filter!.exitCode).toBe(0);
  });

  it("records a namespace that could not be entered any more, and goes on with the next", () => {
    const snap = parseHostSnapshot(VANISHED_DUMP);
    expect([...snap.namespaces.keys()]).toEqual(["ns-gone", "ns-green", "ns-blue"]);
    expect(snap.namespaces.get("ns-gone")).toEqual({
      name: "ns-gone",
      unreachable: {
        exitCode: 255,
        stderr: 'Cannot open network namespace "ns-gone": No such file or directory',
      },
      sections: {},
    });
    expect(snap.namespaces.get("ns-green")!.sections.link!.exitCode).toBe(0);
  });

  it("treats lines that only look like markers as content", () => {
    const other = "linuxnet-snapshot-ffffffffffffffff";
    const lookalikes = [`${other} done`, `${M}done`, ` ${M} done`, `x ${M} end nat 0`].join("\n");
    const text = [`${M} snapshot 1`, `${M} host`, `${M} begin nat`, lookalikes]
      .concat([`${M} stderr nat`, `${M} end nat 0`, `${M} done`, ""])
      .join("\n");
    expect(parseHostSnapshot(text).own.sections.nat!.stdout).toBe(lookalikes);
  });

  it("records a failed `ip netns list`", () => {
    const text = [`${M} snapshot 1`, `${M} host`, `${M} listing 1`, `${M} done`, ""].join("\n");
    expect(parseHostSnapshot(text).listing).toEqual({ exitCode: 1, stderr: "" });
  });

  it("keeps a namespace name with spaces whole", () => {
    const text = [`${M} snapshot 1`, `${M} host`, `${M} netns a b  c`, `${M} done`].join("\n");
    expect([...parseHostSnapshot(text).namespaces.keys()]).toEqual(["a b  c"]);
  });

  it.each(
    labelled([
      { label: "empty output", text: "" },
      { label: "output that is not a snapshot", text: "sh: 1: ip: not found\n" },
      { label: "a dump cut short", text: DUMP.slice(0, DUMP.indexOf(`${M} netns ns-blue`)) },
      { label: "an unknown section", text: `${M} snapshot 1\n${M} host\n${M} begin mangle\n` },
      {
        label: "an end that matches no begin",
        text: `${M} snapshot 1\n${M} host\n${M} end nat 0\n${M} done\n`,
      },
      {
        label: "a bad exit code",
        text: `${M} snapshot 1\n${M} host\n${M} begin nat\n\n${M} stderr nat\n${M} end nat x\n${M} done\n`,
      },
      { label: "output after the end", text: `${M} snapshot 1\n${M} done\n${M} host\n` },
    ]),
  )("refuses %s", (_label, { text }) => {
    expect(() => parseHostSnapshot(text, "10.1.0.2")).toThrow(SnapshotParseError);
  });
});

describe("the snapshot command", () => {
  it("is one fixed script: only the marker changes from one dump to the next", () => {
    const a = snapshotArgv(M);
    const b = snapshotArgv("linuxnet-snapshot-fedcba9876543210");
    expect(a[0]).toBe("sh");
    expect(a[1]).toBe("-c");
    expect(a[3]).toBe("linuxnet-snapshot");
    expect(a[4]).toBe(M);
    expect([a[2], a[5]]).toEqual([b[2], b[5]]);
    expect(a).toHaveLength(6);
  });

  it("refuses a marker that is not a plain word", () => {
    expect(() => snapshotArgv("x; reboot")).toThrow(/marker/);
  });

  it("dumps each section with the command that stands for it", () => {
    const inner = snapshotArgv(M)[5]!;
    for (const [label, argv] of Object.entries(SECTION_COMMANDS)) {
      expect(argv.every((w) => /^[A-Za-z0-9_./-]+$/.test(w))).toBe(true);
      if (label !== "ip_forward") expect(inner).toContain(`\nsection ${label} ${argv.join(" ")}\n`);
    }
    // The shell reads ip_forward itself: one process less per namespace.
    expect(inner).toContain("\nsection ip_forward forwarding\n");
    expect(inner).toContain("read -r v </proc/sys/net/ipv4/ip_forward\n");
  });

  it("expands a namespace name only inside double quotes", () => {
    const outer = snapshotArgv(M)[2]!;
    expect(outer).toContain('(dump "${line% (id: *)}")');
    expect(outer).toContain('ip netns exec "$1" sh -c "$inner" linuxnet-snapshot "$M"');
    // The name is only ever "$1" of dump(), or the quoted expansion that makes it.
    expect(outer.match(/\$1\b/g)).toHaveLength(outer.match(/"\$1"/g)!.length);
    expect(outer.match(/\$\{line/g)).toHaveLength(outer.match(/"\$\{line/g)!.length);
  });
});

describe("the snapshot script, run by sh against stand-in ip and iptables", () => {
  let dir = "";
  const LISTING = [
    "ns-a (id: 0)",
    "we'ird $(touch PWNED) `touch PWNED2` name (id: 7)",
    "gone",
    "no-iptables",
    "-dash",
  ].join("\n");

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "linuxnet-snapshot-test-"));
    for (const sub of ["bin", "no-mktemp", "tmp", "work"]) mkdirSync(join(dir, sub));
    const tool = (name: string, body: string, under = "bin") => {
      writeFileSync(join(dir, under, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(dir, under, name), 0o755);
    };
    tool("mktemp", 'echo "mktemp: failed" >&2; exit 1', "no-mktemp");
    tool("nproc", 'echo "${FAKE_CPUS:-2}"');
    // Every answer names the namespace it ran in, hex-encoded (any name survives that).
    const ns = `$(printf '%s' "\${FAKE_NS-}" | od -An -tx1 | tr -d ' \\n')`;
    tool(
      "ip",
      [
        'if [ "$1" = netns ] && [ "$2" = list ]; then printf "%s\\n" "$FAKE_LISTING"; exit 0; fi',
        'if [ "$1" = netns ] && [ "$2" = exec ]; then',
        '  name="$3"; shift 3',
        '  if [ "$name" = gone ]; then',
        '    printf \'Cannot open network namespace "%s": No such file or directory\\n\' "$name" >&2; exit 255',
        "  fi",
        '  FAKE_NS="$name"; export FAKE_NS; exec "$@"',
        "fi",
        `printf '[{"ifname":"lo","flags":["UP"],"mtu":65536,"ns":"%s","args":"%s"}]\\n' "${ns}" "$*"`,
      ].join("\n"),
    );
    tool(
      "iptables",
      [
        'if [ "${FAKE_NS-}" = no-iptables ]; then echo "iptables: not found" >&2; exit 127; fi',
        `echo "-P POSTROUTING ACCEPT"`,
        `echo "-A POSTROUTING -m comment --comment \\"linuxnet:${ns}\\" -j MASQUERADE"`,
        `echo "linuxnet-snapshot-0000000000000000 done"`,
      ].join("\n"),
    );
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs the dump; `serial`: where mktemp fails; `cpus`: what nproc says. */
  const dump = (opts: { serial?: boolean; cpus?: string } = {}): HostSnapshot => {
    const argv = snapshotArgv(M);
    const bin = [...(opts.serial ? ["no-mktemp"] : []), "bin"].map((d) => join(dir, d));
    const stdout = execFileSync(argv[0]!, argv.slice(1), {
      cwd: join(dir, "work"),
      env: {
        PATH: [...bin, "/usr/bin", "/bin"].join(":"),
        TMPDIR: join(dir, "tmp"),
        FAKE_LISTING: LISTING,
        FAKE_CPUS: opts.cpus ?? "2",
      },
      encoding: "utf8",
    });
    return parseHostSnapshot(stdout, "fake");
  };
  const hex = (s: string) => Buffer.from(s).toString("hex");

  it("dumps every listed namespace by its exact name, and runs nothing a name says", () => {
    const snap = dump();
    expect([...snap.namespaces.keys()]).toEqual([
      "ns-a",
      "we'ird $(touch PWNED) `touch PWNED2` name",
      "gone",
      "no-iptables",
      "-dash",
    ]);
    expect(existsSync(join(dir, "work", "PWNED"))).toBe(false);
    expect(existsSync(join(dir, "work", "PWNED2"))).toBe(false);
    for (const [name, d] of snap.namespaces) {
      if (name === "gone") continue;
      // Each command ran inside its namespace, with the arguments of its section.
      const [link] = JSON.parse(d.sections.link!.stdout) as { ns: string; args: string }[];
      expect(link).toMatchObject({ ns: hex(name), args: "-json -details link show" });
      expect(JSON.parse(d.sections.route6!.stdout)[0].args).toBe("-6 -json route show table all");
      expect(d.sections.ip_forward).toMatchObject({ exitCode: 0 });
      expect(d.sections.ip_forward!.stdout).toMatch(/^[01]\n$/);
    }
    expect(JSON.parse(snap.own.sections.addr!.stdout)[0]).toMatchObject({ ns: "" });
  });

  it("reports a namespace gone before the dump reached it as unreachable, and goes on", async () => {
    const snap = dump();
    expect(snap.namespaces.get("gone")).toEqual({
      name: "gone",
      unreachable: {
        exitCode: 255,
        stderr: 'Cannot open network namespace "gone": No such file or directory',
      },
      sections: {},
    });
    expect(await snapshotReader(snap).namespaces()).not.toContain("gone");
  });

  it("dumps several namespaces at once through a private directory it removes after", () => {
    dump();
    expect(readdirSync(join(dir, "tmp"))).toEqual([]);
    expect(readdirSync(join(dir, "work"))).toEqual([]);
  });

  it("gives the same dump one namespace at a time where no directory can be made", () => {
    const strip = (snap: HostSnapshot) => ({ ...snap, host: "" });
    expect(strip(dump({ serial: true }))).toEqual(strip(dump()));
  });

  it("dumps all namespaces, in order, at any width", () => {
    for (const cpus of ["1", "3", "64", "junk"]) {
      expect([...dump({ cpus }).namespaces.keys()]).toEqual([...dump().namespaces.keys()]);
    }
  });

  it("keeps one command's failure to that command", () => {
    const d = dump().namespaces.get("no-iptables")!;
    expect(d.sections.nat).toEqual({ stdout: "", stderr: "iptables: not found", exitCode: 127 });
    expect(d.sections.link!.exitCode).toBe(0);
  });

  it("keeps output that looks like another dump's marker as output", async () => {
    const snap = dump();
    expect(snap.own.sections.nat!.stdout).toContain("linuxnet-snapshot-0000000000000000 done\n");
    expect(await snapshotReader(snap).taggedRules("ns-a", "nat", "POSTROUTING")).toEqual([
      {
        chain: "POSTROUTING",
        spec: ["-m", "comment", "--comment", `linuxnet:${hex("ns-a")}`, "-j", "MASQUERADE"],
        tag: `linuxnet:${hex("ns-a")}`,
      },
    ]);
  });
});

describe("readHostSnapshot", () => {
  it("runs one command and parses what it printed", async () => {
    const host = fakeHost(async (argv) => ({
      stdout: DUMP.replaceAll(M, argv[4]!),
      stderr: "",
      exitCode: 0,
    }));
    const snap = await readHostSnapshot(host);
    expect(host.ran).toHaveLength(1);
    expect(host.ran[0]![4]).toMatch(/^linuxnet-snapshot-[0-9a-f]{16}$/);
    expect([...snap.namespaces.keys()]).toEqual(["ns-green", "ns-blue"]);
  });

  it("refuses output that carries another dump's marker", async () => {
    const host = fakeHost(async () => ({ stdout: DUMP, stderr: "", exitCode: 0 }));
    await expect(readHostSnapshot(host)).rejects.toThrow(SnapshotParseError);
  });

  it("keeps the listing's words when `ip netns list` failed", async () => {
    const host = fakeHost(async (argv) => ({
      stdout: `${argv[4]} snapshot 1\n${argv[4]} host\n${argv[4]} listing 2\n${argv[4]} done\n`,
      stderr: 'Object "netns" is unknown, try "ip help".\n',
      exitCode: 0,
    }));
    const snap = await readHostSnapshot(host);
    expect(snap.listing).toEqual({
      exitCode: 2,
      stderr: 'Object "netns" is unknown, try "ip help".',
    });
    await expect(snapshotReader(snap).namespaces()).rejects.toThrow(
      /running "ip -json netns list" on 10.1.0.2: exit 2: Object "netns" is unknown/,
    );
  });

  it("throws the command's failure when the dump did not run", async () => {
    const host = fakeHost(async () => ({ stdout: "", stderr: "sh: 1: Syntax error", exitCode: 2 }));
    const error = await readHostSnapshot(host).catch((e: Error) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as Error).message).toBe(
      "running \"sh -c '<linuxnet host snapshot>'\" on 10.1.0.2: exit 2: sh: 1: Syntax error",
    );
  });
});

describe("SnapshotCache", () => {
  const snap = parseHostSnapshot(DUMP, "h");
  const clock = () => {
    const c = { t: 1000, now: () => c.t };
    return c;
  };
  const deferred = () => {
    let resolve!: (s: HostSnapshot) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<HostSnapshot>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };

  it("gives reads that come while a snapshot is being taken the same snapshot", async () => {
    const c = clock();
    const cache = new SnapshotCache(2000, c.now);
    const d = deferred();
    let taken = 0;
    const take = () => (taken++, d.promise);
    const reads = Array.from({ length: 20 }, () => cache.get("k", "h", take));
    d.resolve(snap);
    expect(new Set(await Promise.all(reads))).toEqual(new Set([snap]));
    expect(taken).toBe(1);
  });

  it("keeps a snapshot for the window after it was taken, and takes a new one after", async () => {
    const c = clock();
    const cache = new SnapshotCache(2000, c.now);
    let taken = 0;
    const take = async () => (taken++, snap);
    await cache.get("k", "h", take);
    c.t += 1999;
    await cache.get("k", "h", take);
    expect(taken).toBe(1);
    c.t += 1;
    await cache.get("k", "h", take);
    expect(taken).toBe(2);
  });

  it("measures the window from when the snapshot was taken, not from when it was asked for", async () => {
    const c = clock();
    const cache = new SnapshotCache(2000, c.now);
    const d = deferred();
    let taken = 0;
    const first = cache.get("k", "h", () => (taken++, d.promise));
    c.t += 5000; // a slow dump
    d.resolve(snap);
    await first;
    c.t += 1000;
    await cache.get("k", "h", async () => (taken++, snap));
    expect(taken).toBe(1);
  });

  it("lets a snapshot go once its window has passed, not holding it for the deployment", async () => {
    vi.useFakeTimers();
    try {
      const cache = new SnapshotCache(2000, clock().now); // a clock that never moves
      let taken = 0;
      const take = async () => (taken++, snap);
      await cache.get("k", "h", take);
      vi.advanceTimersByTime(1999);
      await cache.get("k", "h", take);
      expect(taken).toBe(1);
      vi.advanceTimersByTime(1);
      await cache.get("k", "h", take);
      expect(taken).toBe(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it("keeps connections apart", async () => {
    const cache = new SnapshotCache(2000, clock().now);
    let taken = 0;
    const take = async () => (taken++, snap);
    await cache.get("root@h", "h", take);
    await cache.get("lnlab@h+sudo", "h", take);
    expect(taken).toBe(2);
  });

  it("forgets every snapshot of a host, also one still being taken, and no other host's", async () => {
    const cache = new SnapshotCache(2000, clock().now);
    const d = deferred();
    let taken = 0;
    const pending = cache.get("root@h", "h", () => (taken++, d.promise));
    await cache.get("root@other", "other", async () => (taken++, snap));
    cache.forget("h");
    const after = cache.get("root@h", "h", async () => (taken++, snap));
    d.resolve(snap);
    await Promise.all([pending, after]);
    expect(taken).toBe(3);
    await cache.get("root@other", "other", async () => (taken++, snap));
    expect(taken).toBe(3);
    // The forgotten snapshot, taken at last, does not come back.
    await cache.get("root@h", "h", async () => (taken++, snap));
    expect(taken).toBe(3);
  });

  it("answers undefined for a snapshot that could not be taken, for the window", async () => {
    const c = clock();
    const cache = new SnapshotCache(2000, c.now);
    let taken = 0;
    const failing = async (): Promise<HostSnapshot> => {
      taken++;
      throw new Error("ssh to h: connection refused");
    };
    expect(await cache.get("k", "h", failing)).toBeUndefined();
    expect(await cache.get("k", "h", failing)).toBeUndefined();
    expect(taken).toBe(1);
    c.t += 2000;
    expect(await cache.get("k", "h", async () => snap)).toBe(snap);
  });
});

describe("snapshotReader answers as the live reader does", () => {
  const snapshot = parseHostSnapshot(DUMP, "10.1.0.2");

  // Every question below was asked of the live reader on the host the dump was taken from.
  it.each(
    labelled([
      { label: "namespaces()", ask: (r: HostReader): Promise<unknown> => r.namespaces() },
      {
        label: "a bridge on the host",
        ask: (r: HostReader): Promise<unknown> => r.link(undefined, "br0"),
      },
      {
        label: "a bridge port on the host",
        ask: (r: HostReader): Promise<unknown> => r.link(undefined, "veth-blue-br"),
      },
      { label: "the host's lo", ask: (r: HostReader): Promise<unknown> => r.link(undefined, "lo") },
      {
        label: "a link not there",
        ask: (r: HostReader): Promise<unknown> => r.link(undefined, "nope"),
      },
      {
        label: "a veth end in a namespace",
        ask: (r: HostReader): Promise<unknown> => r.link("ns-blue", "veth-blue"),
      },
      {
        label: "lo in a namespace",
        ask: (r: HostReader): Promise<unknown> => r.link("ns-blue", "lo"),
      },
      {
        label: "a link not in a namespace",
        ask: (r: HostReader): Promise<unknown> => r.link("ns-blue", "nope"),
      },
      {
        label: "a link in a namespace not there",
        ask: (r: HostReader): Promise<unknown> => r.link("ns-gone", "veth-blue"),
      },
      {
        label: "lo down, no addresses",
        ask: (r: HostReader): Promise<unknown> => r.link("ns-green", "lo"),
      },
      { label: "lo up", ask: (r: HostReader): Promise<unknown> => r.loopbackUp("ns-blue") },
      { label: "lo down", ask: (r: HostReader): Promise<unknown> => r.loopbackUp("ns-green") },
      {
        label: "lo of a namespace not there",
        ask: (r: HostReader): Promise<unknown> => r.loopbackUp("ns-gone"),
      },
      {
        label: "the host's lo up",
        ask: (r: HostReader): Promise<unknown> => r.loopbackUp(undefined),
      },
      {
        label: "two routes to one network, by metric",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-blue", "10.9.0.0/16", "main", false),
      },
      {
        label: "the IPv4 default route",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-blue", "default", "main", false),
      },
      {
        label: "the IPv6 default route",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-blue", "default", "main", true),
      },
      {
        label: "a route in table 100",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-blue", "10.8.0.0/16", "100", false),
      },
      {
        label: "that route, asked of main",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-blue", "10.8.0.0/16", "main", false),
      },
      {
        label: "a /32 in the local table",
        ask: (r: HostReader): Promise<unknown> =>
          r.routes("ns-blue", "10.0.0.1/32", "local", false),
      },
      {
        label: "an IPv6 network",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-blue", "fd00:9::/64", "main", true),
      },
      {
        label: "a connected network",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-blue", "10.0.0.0/24", "main", false),
      },
      {
        label: "a connected network on the host",
        ask: (r: HostReader): Promise<unknown> => r.routes(undefined, "10.0.0.0/24", "main", false),
      },
      {
        label: "routes of a namespace not there",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-gone", "10.0.0.0/24", "main", false),
      },
      {
        label: "a route not there",
        ask: (r: HostReader): Promise<unknown> =>
          r.routes("ns-blue", "10.99.0.0/16", "main", false),
      },
      {
        label: "no default route",
        ask: (r: HostReader): Promise<unknown> => r.routes("ns-green", "default", "main", false),
      },
      {
        label: "a tagged NAT rule",
        ask: (r: HostReader): Promise<unknown> => r.taggedRules(undefined, "nat", "POSTROUTING"),
      },
      {
        label: "a tagged FORWARD rule among others",
        ask: (r: HostReader): Promise<unknown> => r.taggedRules(undefined, "filter", "FORWARD"),
      },
      {
        label: "a whole table",
        ask: (r: HostReader): Promise<unknown> => r.taggedRules(undefined, "filter"),
      },
      {
        label: "no rules in a namespace",
        ask: (r: HostReader): Promise<unknown> => r.taggedRules("ns-blue", "nat", "POSTROUTING"),
      },
      {
        label: "rules of a namespace not there",
        ask: (r: HostReader): Promise<unknown> => r.taggedRules("ns-gone", "nat", "POSTROUTING"),
      },
      {
        label: "no rules in another namespace",
        ask: (r: HostReader): Promise<unknown> => r.taggedRules("ns-green", "filter", "FORWARD"),
      },
      {
        label: "the host's ip_forward",
        ask: (r: HostReader): Promise<unknown> => r.ipForward(undefined),
      },
      {
        label: "a namespace's ip_forward",
        ask: (r: HostReader): Promise<unknown> => r.ipForward("ns-blue"),
      },
      {
        label: "another namespace's",
        ask: (r: HostReader): Promise<unknown> => r.ipForward("ns-green"),
      },
      {
        label: "ip_forward of a namespace not there",
        ask: (r: HostReader): Promise<unknown> => r.ipForward("ns-gone"),
      },
    ]),
  )("for %s", async (_label, { ask }) => {
    const host = recordedHost(LIVE);
    const live = await outcome(ask(liveReader(host)));
    expect(host.ran.length).toBeGreaterThan(0);
    const fromSnapshot = await outcome(ask(snapshotReader(snapshot)));
    expect(fromSnapshot).toEqual(live);
  });

  const resources = [
    {
      label: "a Namespace",
      kind: namespaceKind,
      id: "ns-blue",
      props: { name: "ns-blue", loopbackUp: true },
    },
    {
      label: "a Namespace whose lo went down",
      kind: namespaceKind,
      id: "ns-green",
      props: { name: "ns-green", loopbackUp: true },
    },
    { label: "a Namespace gone", kind: namespaceKind, id: "ns-gone", props: { name: "ns-gone" } },
    {
      label: "a Bridge with its forwarding rule",
      kind: bridgeKind,
      id: "/br0",
      props: { name: "br0", addresses: ["10.0.0.254/24"], up: true, acceptForwarding: false },
    },
    {
      label: "a VethPair across namespaces",
      kind: vethKind,
      id: "ns-blue/veth-blue~/veth-blue-br",
      props: {
        a: {
          name: "veth-blue",
          namespace: "ns-blue",
          addresses: ["fd00:1::1/64", "10.0.0.1/24"],
          up: true,
        },
        b: { name: "veth-blue-br", bridge: "br0", addresses: [], up: true },
        mtu: 1400,
      },
    },
    {
      label: "a VethPair with an end gone",
      kind: vethKind,
      id: "ns-blue/veth-blue~/nope",
      props: {
        a: { name: "veth-blue", namespace: "ns-blue", addresses: [], up: true },
        b: { name: "nope", addresses: [], up: true },
      },
    },
    {
      label: "a Route by its metric",
      kind: routeKind,
      id: "ns-blue/main/10.9.0.0/16/60",
      props: { namespace: "ns-blue", destination: "10.9.0.0/16", via: "10.0.0.1", metric: 60 },
    },
    {
      label: "an IPv6 default Route",
      kind: routeKind,
      id: "ns-blue/main/default/1024",
      props: { namespace: "ns-blue", destination: "default", via: "fd00:1::fe" },
    },
    {
      label: "a Route gone",
      kind: routeKind,
      id: "ns-blue/main/10.99.0.0/16/0",
      props: { namespace: "ns-blue", destination: "10.99.0.0/16", device: "veth-blue" },
    },
    {
      label: "a NatRule with forwarding on",
      kind: natKind,
      id: "nat-0a1b2c3d",
      props: {
        source: "10.0.0.0/24",
        outInterface: "eth0",
        forwarding: true,
        tag: "linuxnet:nat-0a1b2c3d:fwd",
        forwardingBefore: 0,
      },
    },
    {
      label: "a NatRule gone",
      kind: natKind,
      id: "nat-99999999",
      props: { source: "10.0.0.0/24", forwarding: false, tag: "linuxnet:nat-99999999" },
    },
  ];

  it.each(labelled(resources))(
    "for %s, from the snapshot alone",
    async (_label, { kind, id, props }) => {
      const read = kind.read as (r: HostReader, id: string, p: object) => Promise<unknown>;
      const live = await outcome(read(liveReader(recordedHost(LIVE)), id, props));
      // No live reader behind the snapshot: a read that ran a command would fail here.
      const fromSnapshot = await outcome(read(snapshotReader(snapshot), id, props));
      expect(fromSnapshot).toEqual(live);
    },
  );

  it("reports drift as the live read would: addresses in the user's order, the real MTU and port", async () => {
    const read = vethKind.read(snapshotReader(snapshot), "x", {
      a: { name: "veth-blue", namespace: "ns-blue", addresses: ["fd00:1::1/64"], up: false },
      b: { name: "veth-blue-br", addresses: [], up: true },
      mtu: 1500,
    });
    expect(await read).toEqual({
      a: {
        name: "veth-blue",
        namespace: "ns-blue",
        addresses: ["fd00:1::1/64", "10.0.0.1/24"],
        up: true,
        bridge: undefined,
      },
      b: { name: "veth-blue-br", addresses: [], up: true, bridge: "br0" },
      mtu: 1400,
    });
    expect(
      await bridgeKind.read(snapshotReader(snapshot), "/br0", {
        name: "br0",
        addresses: [],
        up: true,
        acceptForwarding: false,
      }),
    ).toMatchObject({ addresses: ["10.0.0.254/24"], acceptForwarding: true });
    expect(
      await natKind.read(snapshotReader(snapshot), "nat-0a1b2c3d", {
        source: "10.0.0.0/24",
        forwarding: true,
        tag: "linuxnet:nat-0a1b2c3d:fwd",
      }),
    ).toMatchObject({ source: "10.0.0.0/24", outInterface: "eth0", forwarding: true });
  });
});

describe("snapshotReader, where the snapshot holds a failure", () => {
  it("treats a namespace that vanished before the dump reached it as gone", async () => {
    const r = snapshotReader(parseHostSnapshot(VANISHED_DUMP, "10.1.0.2"));
    expect(await r.namespaces()).toEqual(["ns-green", "ns-blue"]);
    expect(await r.link("ns-gone", "veth-gone")).toBeUndefined();
    expect(await r.loopbackUp("ns-gone")).toBeUndefined();
    expect(await r.routes("ns-gone", "default", "main", false)).toBeUndefined();
    expect(await r.taggedRules("ns-gone", "nat", "POSTROUTING")).toBeUndefined();
    expect(await r.ipForward("ns-gone")).toBeUndefined();
    expect(await namespaceKind.read(r, "ns-gone", { name: "ns-gone" })).toBeUndefined();
  });

  it("throws, as `ip -n` would, for a namespace that cannot be entered for another reason", async () => {
    const text = edit(
      VANISHED_DUMP,
      'Cannot open network namespace "ns-gone": No such file or directory',
      'setting the network namespace "ns-gone" failed: Invalid argument',
    );
    const r = snapshotReader(parseHostSnapshot(text, "10.1.0.2"));
    // `ip netns list` lists it, so it is there; but nothing in it can be read.
    expect(await r.namespaces()).toEqual(["ns-gone", "ns-green", "ns-blue"]);
    await expect(r.link("ns-gone", "lo")).rejects.toThrow(
      /running "ip netns exec ns-gone" on 10.1.0.2: exit 255: setting the network namespace "ns-gone" failed: Invalid argument/,
    );
  });

  it("throws the command's own failure for the questions that need it, and answers the others", async () => {
    const text = edit(
      DUMP,
      `${M} begin nat\n-P PREROUTING ACCEPT\n-P INPUT ACCEPT\n-P OUTPUT ACCEPT\n-P POSTROUTING ACCEPT\n\n${M} stderr nat\n${M} end nat 0\n${M} begin filter\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n\n${M} stderr filter\n${M} end filter 0\n${M} begin ip_forward\n0\n\n${M} stderr ip_forward\n${M} end ip_forward 0\n${M} netns ns-blue`,
      `${M} begin nat\n\n${M} stderr nat\nsh: 1: iptables: not found\n${M} end nat 127\n${M} begin filter\n-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n\n${M} stderr filter\n${M} end filter 0\n${M} begin ip_forward\n0\n\n${M} stderr ip_forward\n${M} end ip_forward 0\n${M} netns ns-blue`,
    );
    const r = snapshotReader(parseHostSnapshot(text, "10.1.0.2"));
    const error = await r.taggedRules("ns-green", "nat", "POSTROUTING").catch((e: Error) => e);
    expect(error).toBeInstanceOf(CommandError);
    expect((error as Error).message).toBe(
      'running "ip netns exec ns-green iptables -w -t nat -S" on 10.1.0.2: exit 127: sh: 1: iptables: not found',
    );
    expect(await r.taggedRules("ns-green", "filter", "FORWARD")).toEqual([]);
    expect(await r.loopbackUp("ns-green")).toBe(false);
  });

  it("says so for a chain that does not exist, as `iptables -S CHAIN` fails", async () => {
    const r = snapshotReader(parseHostSnapshot(DUMP, "10.1.0.2"));
    await expect(r.taggedRules("ns-blue", "filter", "NOPE")).rejects.toThrow(
      /running "ip netns exec ns-blue iptables -w -t filter -S NOPE" on 10.1.0.2: exit 1/,
    );
  });

  it("asks the live reader what the snapshot does not hold", async () => {
    const snapshot = parseHostSnapshot(DUMP, "10.1.0.2");
    await expect(snapshotReader(snapshot).taggedRules(undefined, "mangle")).rejects.toThrow(
      /does not hold the iptables table "mangle"/,
    );
    const host = recordedHost({
      [JSON.stringify(["iptables", "-w", "-t", "mangle", "-S"])]: {
        stdout: "-P PREROUTING ACCEPT\n",
        stderr: "",
        exitCode: 0,
      },
    });
    const r = snapshotReader(snapshot, liveReader(host));
    expect(await r.taggedRules(undefined, "mangle")).toEqual([]);
    expect(r.name).toBe("10.1.0.2");
  });

  it("can only read: neither a snapshot reader nor a live one offers to run a command", () => {
    const host = recordedHost({});
    for (const r of [snapshotReader(parseHostSnapshot(DUMP, "10.1.0.2")), liveReader(host)]) {
      for (const command of ["run", "runOk", "runSteps", "runStepsOk"]) {
        expect(r, command).not.toHaveProperty(command);
      }
    }
  });
});

describe("route matching", () => {
  it.each(
    labelled([
      { label: "default, IPv4", dst: "default", ipv6: false, key: "0.0.0.0/0" },
      { label: "default, IPv6", dst: "default", ipv6: true, key: "::/0" },
      {
        label: "a host address without a length",
        dst: "10.0.0.1",
        ipv6: false,
        key: "10.0.0.1/32",
      },
      { label: "a host address with one", dst: "10.0.0.1/32", ipv6: false, key: "10.0.0.1/32" },
      { label: "an IPv6 host", dst: "fd00::1", ipv6: true, key: "fd00:0:0:0:0:0:0:1/128" },
      {
        label: "IPv6 in another spelling",
        dst: "FD00:0::/64",
        ipv6: true,
        key: "fd00:0:0:0:0:0:0:0/64",
      },
      { label: "IPv6 asked as IPv4", dst: "fd00::/64", ipv6: false, key: undefined },
      { label: "IPv4 asked as IPv6", dst: "10.0.0.0/8", ipv6: true, key: undefined },
      { label: "a length too long", dst: "10.0.0.0/33", ipv6: false, key: undefined },
      { label: "not an address", dst: "unreachable", ipv6: false, key: undefined },
    ]),
  )("keys %s", (_label, { dst, ipv6, key }) => {
    expect(prefixKey(dst, ipv6)).toBe(key);
  });

  it.each(
    labelled([
      { label: "main by name", table: "main", id: 254 },
      { label: "no table field, as main", table: undefined, id: 254 },
      { label: "local", table: "local", id: 255 },
      { label: "default", table: "default", id: 253 },
      { label: "a number", table: "100", id: 100 },
      { label: "a name only rt_tables knows", table: "isp2", id: undefined },
    ]),
  )("numbers the table %s", (_label, { table, id }) => {
    expect(tableId(table)).toBe(id);
  });

  it("hands a table it cannot name to the live reader", () => {
    const all = [{ dst: "10.8.0.0/16", table: "isp2", gateway: "10.0.0.254" }];
    expect(routesTo(all, "10.8.0.0/16", "100", false)).toBe("unknown");
    expect(routesTo(all, "10.8.0.0/16", "isp2", false)).toEqual([
      { dst: "10.8.0.0/16", gateway: "10.0.0.254" },
    ]);
    // A route elsewhere does not matter.
    expect(routesTo(all, "10.7.0.0/16", "100", false)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------
// Fixtures, captured on a real host: a bridge br0 (10.0.0.254/24) on the host with the port
// veth-blue-br; namespace ns-blue with veth-blue (10.0.0.1/24, fd00:1::1/64, MTU 1400), routes
// (default both families, 10.9.0.0/16 at metrics 50 and 60, 10.8.0.0/16 in table 100,
// fd00:9::/64); namespace ns-green with lo down; on the host a tagged NAT rule, a tagged
// FORWARD rule beside someone else's, and ip_forward on.

function capturedDump(): string {
  return String.raw`linuxnet-snapshot-0123456789abcdef snapshot 1
linuxnet-snapshot-0123456789abcdef host
linuxnet-snapshot-0123456789abcdef begin link
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":2,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"8e:f4:88:ad:d3:4f","broadcast":"ff:ff:ff:ff:ff:ff","promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"bridge","info_data":{"forward_delay":1500,"hello_time":200,"max_age":2000,"ageing_time":30000,"stp_state":0,"priority":32768,"vlan_filtering":0,"bridge_id":"8000.8e:f4:88:ad:d3:4f","root_id":"8000.8e:f4:88:ad:d3:4f","root_port":0,"root_path_cost":0,"topology_change":0,"topology_change_detected":0,"hello_timer":0.00,"tcn_timer":0.00,"topology_change_timer":0.00,"gc_timer":299.88,"group_fwd_mask":"0","group_addr":"01:80:c2:00:00:00","mcast_snooping":1,"no_linklocal_learn":0,"mcast_vlan_snooping":0,"mcast_router":1,"mcast_query_use_ifaddr":0,"mcast_querier":0,"mcast_hash_elasticity":16,"mcast_hash_max":4096,"mcast_last_member_cnt":2,"mcast_startup_query_cnt":2,"mcast_last_member_intvl":100,"mcast_membership_intvl":26000,"mcast_querier_intvl":25500,"mcast_query_intvl":12500,"mcast_query_response_intvl":1000,"mcast_startup_query_intvl":3124,"mcast_stats_enabled":0,"mcast_igmp_version":2,"mcast_mld_version":1,"nf_call_iptables":0,"nf_call_ip6tables":0,"nf_call_arptables":0}},"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":3,"link_index":2,"ifname":"veth-blue-br","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br0","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"8e:f4:88:ad:d3:4f","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"promiscuity":1,"allmulti":1,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth","info_slave_kind":"bridge","info_slave_data":{"state":"forwarding","priority":32,"cost":2,"hairpin":false,"guard":false,"root_block":false,"fastleave":false,"learning":true,"flood":true,"id":"0x8001","no":"0x1","designated_port":32769,"designated_cost":0,"bridge_id":"8000.8e:f4:88:ad:d3:4f","root_id":"8000.8e:f4:88:ad:d3:4f","hold_timer":0.00,"message_age_timer":0.00,"forward_delay_timer":14.87,"topology_change_ack":0,"config_pending":0,"proxy_arp":false,"proxy_arp_wifi":false,"multicast_router":1,"mcast_flood":true,"bcast_flood":true,"mcast_to_unicast":false,"neigh_suppress":false,"group_fwd_mask":"0","group_fwd_mask_str":"0x0","vlan_tunnel":false,"isolated":false,"locked":false}},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}]

linuxnet-snapshot-0123456789abcdef stderr link
linuxnet-snapshot-0123456789abcdef end link 0
linuxnet-snapshot-0123456789abcdef begin addr
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"ifname":"br0","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"ether","address":"8e:f4:88:ad:d3:4f","broadcast":"ff:ff:ff:ff:ff:ff","addr_info":[{"family":"inet","local":"10.0.0.254","prefixlen":24,"scope":"global","label":"br0","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::4c9e:f8ff:fef7:9252","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":3,"link_index":2,"ifname":"veth-blue-br","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1500,"qdisc":"noqueue","master":"br0","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"8e:f4:88:ad:d3:4f","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":[{"family":"inet6","local":"fe80::8cf4:88ff:fead:d34f","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]

linuxnet-snapshot-0123456789abcdef stderr addr
linuxnet-snapshot-0123456789abcdef end addr 0
linuxnet-snapshot-0123456789abcdef begin route4
[{"dst":"10.0.0.0/24","dev":"br0","protocol":"kernel","scope":"link","prefsrc":"10.0.0.254","flags":[]},{"type":"local","dst":"10.0.0.254","dev":"br0","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.0.0.254","flags":[]},{"type":"broadcast","dst":"10.0.0.255","dev":"br0","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.0.0.254","flags":[]},{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local","protocol":"kernel","scope":"link","prefsrc":"127.0.0.1","flags":[]}]

linuxnet-snapshot-0123456789abcdef stderr route4
linuxnet-snapshot-0123456789abcdef end route4 0
linuxnet-snapshot-0123456789abcdef begin route6
[{"dst":"fe80::/64","dev":"br0","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"fe80::/64","dev":"veth-blue-br","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"type":"local","dst":"::1","dev":"lo","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},{"type":"multicast","dst":"ff00::/8","dev":"br0","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"type":"multicast","dst":"ff00::/8","dev":"veth-blue-br","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]

linuxnet-snapshot-0123456789abcdef stderr route6
linuxnet-snapshot-0123456789abcdef end route6 0
linuxnet-snapshot-0123456789abcdef begin nat
-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT
-A POSTROUTING -s 10.0.0.0/24 -o eth0 -m comment --comment "linuxnet:nat-0a1b2c3d:fwd" -j MASQUERADE

linuxnet-snapshot-0123456789abcdef stderr nat
linuxnet-snapshot-0123456789abcdef end nat 0
linuxnet-snapshot-0123456789abcdef begin filter
-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT
-A FORWARD -i br0 -o br0 -m comment --comment "linuxnet:bridge:br0" -j ACCEPT
-A FORWARD -m comment --comment "someone else\'s rule" -j ACCEPT

linuxnet-snapshot-0123456789abcdef stderr filter
linuxnet-snapshot-0123456789abcdef end filter 0
linuxnet-snapshot-0123456789abcdef begin ip_forward
1

linuxnet-snapshot-0123456789abcdef stderr ip_forward
linuxnet-snapshot-0123456789abcdef end ip_forward 0
linuxnet-snapshot-0123456789abcdef netns ns-green
linuxnet-snapshot-0123456789abcdef begin link
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}]

linuxnet-snapshot-0123456789abcdef stderr link
linuxnet-snapshot-0123456789abcdef end link 0
linuxnet-snapshot-0123456789abcdef begin addr
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK"],"mtu":65536,"qdisc":"noop","operstate":"DOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[]}]

linuxnet-snapshot-0123456789abcdef stderr addr
linuxnet-snapshot-0123456789abcdef end addr 0
linuxnet-snapshot-0123456789abcdef begin route4
[]

linuxnet-snapshot-0123456789abcdef stderr route4
linuxnet-snapshot-0123456789abcdef end route4 0
linuxnet-snapshot-0123456789abcdef begin route6
[]

linuxnet-snapshot-0123456789abcdef stderr route6
linuxnet-snapshot-0123456789abcdef end route6 0
linuxnet-snapshot-0123456789abcdef begin nat
-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT

linuxnet-snapshot-0123456789abcdef stderr nat
linuxnet-snapshot-0123456789abcdef end nat 0
linuxnet-snapshot-0123456789abcdef begin filter
-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT

linuxnet-snapshot-0123456789abcdef stderr filter
linuxnet-snapshot-0123456789abcdef end filter 0
linuxnet-snapshot-0123456789abcdef begin ip_forward
0

linuxnet-snapshot-0123456789abcdef stderr ip_forward
linuxnet-snapshot-0123456789abcdef end ip_forward 0
linuxnet-snapshot-0123456789abcdef netns ns-blue
linuxnet-snapshot-0123456789abcdef begin link
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","promiscuity":0,"allmulti":0,"min_mtu":0,"max_mtu":0,"inet6_addr_gen_mode":"eui64","num_tx_queues":1,"num_rx_queues":1,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536},{"ifindex":2,"link_index":3,"ifname":"veth-blue","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,"qdisc":"noqueue","operstate":"UP","linkmode":"DEFAULT","group":"default","txqlen":1000,"link_type":"ether","address":"fe:02:f5:d6:48:89","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"promiscuity":0,"allmulti":0,"min_mtu":68,"max_mtu":65535,"linkinfo":{"info_kind":"veth"},"inet6_addr_gen_mode":"eui64","num_tx_queues":2,"num_rx_queues":2,"gso_max_size":65536,"gso_max_segs":65535,"tso_max_size":524280,"tso_max_segs":65535,"gro_max_size":65536}]

linuxnet-snapshot-0123456789abcdef stderr link
linuxnet-snapshot-0123456789abcdef end link 0
linuxnet-snapshot-0123456789abcdef begin addr
[{"ifindex":1,"ifname":"lo","flags":["LOOPBACK","UP","LOWER_UP"],"mtu":65536,"qdisc":"noqueue","operstate":"UNKNOWN","group":"default","txqlen":1000,"link_type":"loopback","address":"00:00:00:00:00:00","broadcast":"00:00:00:00:00:00","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host","label":"lo","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"::1","prefixlen":128,"scope":"host","valid_life_time":4294967295,"preferred_life_time":4294967295}]},{"ifindex":2,"link_index":3,"ifname":"veth-blue","flags":["BROADCAST","MULTICAST","UP","LOWER_UP"],"mtu":1400,"qdisc":"noqueue","operstate":"UP","group":"default","txqlen":1000,"link_type":"ether","address":"fe:02:f5:d6:48:89","broadcast":"ff:ff:ff:ff:ff:ff","link_netnsid":0,"addr_info":[{"family":"inet","local":"10.0.0.1","prefixlen":24,"scope":"global","label":"veth-blue","valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fd00:1::1","prefixlen":64,"scope":"global","nodad":true,"valid_life_time":4294967295,"preferred_life_time":4294967295},{"family":"inet6","local":"fe80::fc02:f5ff:fed6:4889","prefixlen":64,"scope":"link","tentative":true,"valid_life_time":4294967295,"preferred_life_time":4294967295}]}]

linuxnet-snapshot-0123456789abcdef stderr addr
linuxnet-snapshot-0123456789abcdef end addr 0
linuxnet-snapshot-0123456789abcdef begin route4
[{"dst":"10.8.0.0/16","gateway":"10.0.0.254","dev":"veth-blue","table":"100","flags":[]},{"dst":"default","gateway":"10.0.0.254","dev":"veth-blue","flags":[]},{"dst":"10.0.0.0/24","dev":"veth-blue","protocol":"kernel","scope":"link","prefsrc":"10.0.0.1","flags":[]},{"dst":"10.9.0.0/16","gateway":"10.0.0.254","dev":"veth-blue","metric":50,"flags":[]},{"dst":"10.9.0.0/16","gateway":"10.0.0.254","dev":"veth-blue","metric":60,"flags":[]},{"type":"local","dst":"10.0.0.1","dev":"veth-blue","table":"local","protocol":"kernel","scope":"host","prefsrc":"10.0.0.1","flags":[]},{"type":"broadcast","dst":"10.0.0.255","dev":"veth-blue","table":"local","protocol":"kernel","scope":"link","prefsrc":"10.0.0.1","flags":[]},{"type":"local","dst":"127.0.0.0/8","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},{"type":"local","dst":"127.0.0.1","dev":"lo","table":"local","protocol":"kernel","scope":"host","prefsrc":"127.0.0.1","flags":[]},{"type":"broadcast","dst":"127.255.255.255","dev":"lo","table":"local","protocol":"kernel","scope":"link","prefsrc":"127.0.0.1","flags":[]}]

linuxnet-snapshot-0123456789abcdef stderr route4
linuxnet-snapshot-0123456789abcdef end route4 0
linuxnet-snapshot-0123456789abcdef begin route6
[{"dst":"fd00:1::/64","dev":"veth-blue","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"fd00:9::/64","gateway":"fd00:1::fe","dev":"veth-blue","metric":1024,"flags":[],"pref":"medium"},{"dst":"fe80::/64","dev":"veth-blue","protocol":"kernel","metric":256,"flags":[],"pref":"medium"},{"dst":"default","gateway":"fd00:1::fe","dev":"veth-blue","metric":1024,"flags":[],"pref":"medium"},{"type":"local","dst":"::1","dev":"lo","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},{"type":"local","dst":"fd00:1::1","dev":"veth-blue","table":"local","protocol":"kernel","metric":0,"flags":[],"pref":"medium"},{"type":"multicast","dst":"ff00::/8","dev":"veth-blue","table":"local","protocol":"kernel","metric":256,"flags":[],"pref":"medium"}]

linuxnet-snapshot-0123456789abcdef stderr route6
linuxnet-snapshot-0123456789abcdef end route6 0
linuxnet-snapshot-0123456789abcdef begin nat
-P PREROUTING ACCEPT
-P INPUT ACCEPT
-P OUTPUT ACCEPT
-P POSTROUTING ACCEPT

linuxnet-snapshot-0123456789abcdef stderr nat
linuxnet-snapshot-0123456789abcdef end nat 0
linuxnet-snapshot-0123456789abcdef begin filter
-P INPUT ACCEPT
-P FORWARD ACCEPT
-P OUTPUT ACCEPT

linuxnet-snapshot-0123456789abcdef stderr filter
linuxnet-snapshot-0123456789abcdef end filter 0
linuxnet-snapshot-0123456789abcdef begin ip_forward
0

linuxnet-snapshot-0123456789abcdef stderr ip_forward
linuxnet-snapshot-0123456789abcdef end ip_forward 0
linuxnet-snapshot-0123456789abcdef done
`;
}

function capturedLiveAnswers(): Record<string, CommandResult> {
  return JSON.parse(String.raw`{
 "[\"ip\",\"-json\",\"netns\",\"list\"]": {
  "stdout": "[{\"name\":\"ns-green\"},{\"name\":\"ns-blue\",\"id\":0}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"br0\"]": {
  "stdout": "[{\"ifindex\":2,\"ifname\":\"br0\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1500,\"qdisc\":\"noqueue\",\"operstate\":\"UP\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"ether\",\"address\":\"8e:f4:88:ad:d3:4f\",\"broadcast\":\"ff:ff:ff:ff:ff:ff\",\"promiscuity\":0,\"allmulti\":0,\"min_mtu\":68,\"max_mtu\":65535,\"linkinfo\":{\"info_kind\":\"bridge\",\"info_data\":{\"forward_delay\":1500,\"hello_time\":200,\"max_age\":2000,\"ageing_time\":30000,\"stp_state\":0,\"priority\":32768,\"vlan_filtering\":0,\"bridge_id\":\"8000.8e:f4:88:ad:d3:4f\",\"root_id\":\"8000.8e:f4:88:ad:d3:4f\",\"root_port\":0,\"root_path_cost\":0,\"topology_change\":0,\"topology_change_detected\":0,\"hello_timer\":0.00,\"tcn_timer\":0.00,\"topology_change_timer\":0.00,\"gc_timer\":299.83,\"group_fwd_mask\":\"0\",\"group_addr\":\"01:80:c2:00:00:00\",\"mcast_snooping\":1,\"no_linklocal_learn\":0,\"mcast_vlan_snooping\":0,\"mcast_router\":1,\"mcast_query_use_ifaddr\":0,\"mcast_querier\":0,\"mcast_hash_elasticity\":16,\"mcast_hash_max\":4096,\"mcast_last_member_cnt\":2,\"mcast_startup_query_cnt\":2,\"mcast_last_member_intvl\":100,\"mcast_membership_intvl\":26000,\"mcast_querier_intvl\":25500,\"mcast_query_intvl\":12500,\"mcast_query_response_intvl\":1000,\"mcast_startup_query_intvl\":3124,\"mcast_stats_enabled\":0,\"mcast_igmp_version\":2,\"mcast_mld_version\":1,\"nf_call_iptables\":0,\"nf_call_ip6tables\":0,\"nf_call_arptables\":0}},\"inet6_addr_gen_mode\":\"eui64\",\"num_tx_queues\":1,\"num_rx_queues\":1,\"gso_max_size\":65536,\"gso_max_segs\":65535,\"tso_max_size\":524280,\"tso_max_segs\":65535,\"gro_max_size\":65536}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"addr\",\"show\",\"dev\",\"br0\"]": {
  "stdout": "[{\"ifindex\":2,\"ifname\":\"br0\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1500,\"qdisc\":\"noqueue\",\"operstate\":\"UP\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"ether\",\"address\":\"8e:f4:88:ad:d3:4f\",\"broadcast\":\"ff:ff:ff:ff:ff:ff\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.0.0.254\",\"prefixlen\":24,\"scope\":\"global\",\"label\":\"br0\",\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295},{\"family\":\"inet6\",\"local\":\"fe80::4c9e:f8ff:fef7:9252\",\"prefixlen\":64,\"scope\":\"link\",\"tentative\":true,\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295}]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"veth-blue-br\"]": {
  "stdout": "[{\"ifindex\":3,\"link_index\":2,\"ifname\":\"veth-blue-br\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1500,\"qdisc\":\"noqueue\",\"master\":\"br0\",\"operstate\":\"UP\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"ether\",\"address\":\"8e:f4:88:ad:d3:4f\",\"broadcast\":\"ff:ff:ff:ff:ff:ff\",\"link_netnsid\":0,\"promiscuity\":1,\"allmulti\":1,\"min_mtu\":68,\"max_mtu\":65535,\"linkinfo\":{\"info_kind\":\"veth\",\"info_slave_kind\":\"bridge\",\"info_slave_data\":{\"state\":\"forwarding\",\"priority\":32,\"cost\":2,\"hairpin\":false,\"guard\":false,\"root_block\":false,\"fastleave\":false,\"learning\":true,\"flood\":true,\"id\":\"0x8001\",\"no\":\"0x1\",\"designated_port\":32769,\"designated_cost\":0,\"bridge_id\":\"8000.8e:f4:88:ad:d3:4f\",\"root_id\":\"8000.8e:f4:88:ad:d3:4f\",\"hold_timer\":0.00,\"message_age_timer\":0.00,\"forward_delay_timer\":14.80,\"topology_change_ack\":0,\"config_pending\":0,\"proxy_arp\":false,\"proxy_arp_wifi\":false,\"multicast_router\":1,\"mcast_flood\":true,\"bcast_flood\":true,\"mcast_to_unicast\":false,\"neigh_suppress\":false,\"group_fwd_mask\":\"0\",\"group_fwd_mask_str\":\"0x0\",\"vlan_tunnel\":false,\"isolated\":false,\"locked\":false}},\"inet6_addr_gen_mode\":\"eui64\",\"num_tx_queues\":2,\"num_rx_queues\":2,\"gso_max_size\":65536,\"gso_max_segs\":65535,\"tso_max_size\":524280,\"tso_max_segs\":65535,\"gro_max_size\":65536}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"addr\",\"show\",\"dev\",\"veth-blue-br\"]": {
  "stdout": "[{\"ifindex\":3,\"link_index\":2,\"ifname\":\"veth-blue-br\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1500,\"qdisc\":\"noqueue\",\"master\":\"br0\",\"operstate\":\"UP\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"ether\",\"address\":\"8e:f4:88:ad:d3:4f\",\"broadcast\":\"ff:ff:ff:ff:ff:ff\",\"link_netnsid\":0,\"addr_info\":[{\"family\":\"inet6\",\"local\":\"fe80::8cf4:88ff:fead:d34f\",\"prefixlen\":64,\"scope\":\"link\",\"tentative\":true,\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295}]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\",\"UP\",\"LOWER_UP\"],\"mtu\":65536,\"qdisc\":\"noqueue\",\"operstate\":\"UNKNOWN\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\",\"promiscuity\":0,\"allmulti\":0,\"min_mtu\":0,\"max_mtu\":0,\"inet6_addr_gen_mode\":\"eui64\",\"num_tx_queues\":1,\"num_rx_queues\":1,\"gso_max_size\":65536,\"gso_max_segs\":65535,\"tso_max_size\":524280,\"tso_max_segs\":65535,\"gro_max_size\":65536}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"addr\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\",\"UP\",\"LOWER_UP\"],\"mtu\":65536,\"qdisc\":\"noqueue\",\"operstate\":\"UNKNOWN\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"127.0.0.1\",\"prefixlen\":8,\"scope\":\"host\",\"label\":\"lo\",\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295},{\"family\":\"inet6\",\"local\":\"::1\",\"prefixlen\":128,\"scope\":\"host\",\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295}]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"nope\"]": {
  "stdout": "",
  "stderr": "Device \"nope\" does not exist.\n",
  "exitCode": 1
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"veth-blue\"]": {
  "stdout": "[{\"ifindex\":2,\"link_index\":3,\"ifname\":\"veth-blue\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1400,\"qdisc\":\"noqueue\",\"operstate\":\"UP\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"ether\",\"address\":\"fe:02:f5:d6:48:89\",\"broadcast\":\"ff:ff:ff:ff:ff:ff\",\"link_netnsid\":0,\"promiscuity\":0,\"allmulti\":0,\"min_mtu\":68,\"max_mtu\":65535,\"linkinfo\":{\"info_kind\":\"veth\"},\"inet6_addr_gen_mode\":\"eui64\",\"num_tx_queues\":2,\"num_rx_queues\":2,\"gso_max_size\":65536,\"gso_max_segs\":65535,\"tso_max_size\":524280,\"tso_max_segs\":65535,\"gro_max_size\":65536}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"addr\",\"show\",\"dev\",\"veth-blue\"]": {
  "stdout": "[{\"ifindex\":2,\"link_index\":3,\"ifname\":\"veth-blue\",\"flags\":[\"BROADCAST\",\"MULTICAST\",\"UP\",\"LOWER_UP\"],\"mtu\":1400,\"qdisc\":\"noqueue\",\"operstate\":\"UP\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"ether\",\"address\":\"fe:02:f5:d6:48:89\",\"broadcast\":\"ff:ff:ff:ff:ff:ff\",\"link_netnsid\":0,\"addr_info\":[{\"family\":\"inet\",\"local\":\"10.0.0.1\",\"prefixlen\":24,\"scope\":\"global\",\"label\":\"veth-blue\",\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295},{\"family\":\"inet6\",\"local\":\"fd00:1::1\",\"prefixlen\":64,\"scope\":\"global\",\"nodad\":true,\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295},{\"family\":\"inet6\",\"local\":\"fe80::fc02:f5ff:fed6:4889\",\"prefixlen\":64,\"scope\":\"link\",\"tentative\":true,\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295}]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\",\"UP\",\"LOWER_UP\"],\"mtu\":65536,\"qdisc\":\"noqueue\",\"operstate\":\"UNKNOWN\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\",\"promiscuity\":0,\"allmulti\":0,\"min_mtu\":0,\"max_mtu\":0,\"inet6_addr_gen_mode\":\"eui64\",\"num_tx_queues\":1,\"num_rx_queues\":1,\"gso_max_size\":65536,\"gso_max_segs\":65535,\"tso_max_size\":524280,\"tso_max_segs\":65535,\"gro_max_size\":65536}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"addr\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\",\"UP\",\"LOWER_UP\"],\"mtu\":65536,\"qdisc\":\"noqueue\",\"operstate\":\"UNKNOWN\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\",\"addr_info\":[{\"family\":\"inet\",\"local\":\"127.0.0.1\",\"prefixlen\":8,\"scope\":\"host\",\"label\":\"lo\",\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295},{\"family\":\"inet6\",\"local\":\"::1\",\"prefixlen\":128,\"scope\":\"host\",\"valid_life_time\":4294967295,\"preferred_life_time\":4294967295}]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"nope\"]": {
  "stdout": "",
  "stderr": "Device \"nope\" does not exist.\n",
  "exitCode": 1
 },
 "[\"ip\",\"-n\",\"ns-gone\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"veth-blue\"]": {
  "stdout": "",
  "stderr": "Cannot open network namespace \"ns-gone\": No such file or directory\n",
  "exitCode": 255
 },
 "[\"ip\",\"-n\",\"ns-green\",\"-json\",\"-details\",\"link\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\"],\"mtu\":65536,\"qdisc\":\"noop\",\"operstate\":\"DOWN\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\",\"promiscuity\":0,\"allmulti\":0,\"min_mtu\":0,\"max_mtu\":0,\"inet6_addr_gen_mode\":\"eui64\",\"num_tx_queues\":1,\"num_rx_queues\":1,\"gso_max_size\":65536,\"gso_max_segs\":65535,\"tso_max_size\":524280,\"tso_max_segs\":65535,\"gro_max_size\":65536}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-green\",\"-json\",\"addr\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\"],\"mtu\":65536,\"qdisc\":\"noop\",\"operstate\":\"DOWN\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\",\"addr_info\":[]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"link\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\",\"UP\",\"LOWER_UP\"],\"mtu\":65536,\"qdisc\":\"noqueue\",\"operstate\":\"UNKNOWN\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\"}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-green\",\"-json\",\"link\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\"],\"mtu\":65536,\"qdisc\":\"noop\",\"operstate\":\"DOWN\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\"}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-gone\",\"-json\",\"link\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "",
  "stderr": "Cannot open network namespace \"ns-gone\": No such file or directory\n",
  "exitCode": 255
 },
 "[\"ip\",\"-json\",\"link\",\"show\",\"dev\",\"lo\"]": {
  "stdout": "[{\"ifindex\":1,\"ifname\":\"lo\",\"flags\":[\"LOOPBACK\",\"UP\",\"LOWER_UP\"],\"mtu\":65536,\"qdisc\":\"noqueue\",\"operstate\":\"UNKNOWN\",\"linkmode\":\"DEFAULT\",\"group\":\"default\",\"txqlen\":1000,\"link_type\":\"loopback\",\"address\":\"00:00:00:00:00:00\",\"broadcast\":\"00:00:00:00:00:00\"}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.9.0.0/16\",\"table\",\"main\"]": {
  "stdout": "[{\"dst\":\"10.9.0.0/16\",\"gateway\":\"10.0.0.254\",\"dev\":\"veth-blue\",\"metric\":50,\"flags\":[]},{\"dst\":\"10.9.0.0/16\",\"gateway\":\"10.0.0.254\",\"dev\":\"veth-blue\",\"metric\":60,\"flags\":[]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"default\",\"table\",\"main\"]": {
  "stdout": "[{\"dst\":\"default\",\"gateway\":\"10.0.0.254\",\"dev\":\"veth-blue\",\"flags\":[]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-6\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"default\",\"table\",\"main\"]": {
  "stdout": "[{\"dst\":\"default\",\"gateway\":\"fd00:1::fe\",\"dev\":\"veth-blue\",\"metric\":1024,\"flags\":[],\"pref\":\"medium\"}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.8.0.0/16\",\"table\",\"100\"]": {
  "stdout": "[{\"dst\":\"10.8.0.0/16\",\"gateway\":\"10.0.0.254\",\"dev\":\"veth-blue\",\"flags\":[]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.8.0.0/16\",\"table\",\"main\"]": {
  "stdout": "[]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.0.0.1/32\",\"table\",\"local\"]": {
  "stdout": "[{\"type\":\"local\",\"dst\":\"10.0.0.1\",\"dev\":\"veth-blue\",\"protocol\":\"kernel\",\"scope\":\"host\",\"prefsrc\":\"10.0.0.1\",\"flags\":[]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-6\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"fd00:9::/64\",\"table\",\"main\"]": {
  "stdout": "[{\"dst\":\"fd00:9::/64\",\"gateway\":\"fd00:1::fe\",\"dev\":\"veth-blue\",\"metric\":1024,\"flags\":[],\"pref\":\"medium\"}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.0.0.0/24\",\"table\",\"main\"]": {
  "stdout": "[{\"dst\":\"10.0.0.0/24\",\"dev\":\"veth-blue\",\"protocol\":\"kernel\",\"scope\":\"link\",\"prefsrc\":\"10.0.0.1\",\"flags\":[]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.0.0.0/24\",\"table\",\"main\"]": {
  "stdout": "[{\"dst\":\"10.0.0.0/24\",\"dev\":\"br0\",\"protocol\":\"kernel\",\"scope\":\"link\",\"prefsrc\":\"10.0.0.254\",\"flags\":[]}]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-gone\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.0.0.0/24\",\"table\",\"main\"]": {
  "stdout": "",
  "stderr": "Cannot open network namespace \"ns-gone\": No such file or directory\n",
  "exitCode": 255
 },
 "[\"ip\",\"-n\",\"ns-blue\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"10.99.0.0/16\",\"table\",\"main\"]": {
  "stdout": "[]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"-n\",\"ns-green\",\"-json\",\"route\",\"show\",\"to\",\"exact\",\"default\",\"table\",\"main\"]": {
  "stdout": "[]\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"iptables\",\"-w\",\"-t\",\"nat\",\"-S\",\"POSTROUTING\"]": {
  "stdout": "-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.0.0.0/24 -o eth0 -m comment --comment \"linuxnet:nat-0a1b2c3d:fwd\" -j MASQUERADE\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"iptables\",\"-w\",\"-t\",\"filter\",\"-S\",\"FORWARD\"]": {
  "stdout": "-P FORWARD ACCEPT\n-A FORWARD -i br0 -o br0 -m comment --comment \"linuxnet:bridge:br0\" -j ACCEPT\n-A FORWARD -m comment --comment \"someone else\\'s rule\" -j ACCEPT\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"iptables\",\"-w\",\"-t\",\"filter\",\"-S\"]": {
  "stdout": "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n-A FORWARD -i br0 -o br0 -m comment --comment \"linuxnet:bridge:br0\" -j ACCEPT\n-A FORWARD -m comment --comment \"someone else\\'s rule\" -j ACCEPT\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"netns\",\"exec\",\"ns-blue\",\"iptables\",\"-w\",\"-t\",\"nat\",\"-S\",\"POSTROUTING\"]": {
  "stdout": "-P POSTROUTING ACCEPT\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"netns\",\"exec\",\"ns-gone\",\"iptables\",\"-w\",\"-t\",\"nat\",\"-S\",\"POSTROUTING\"]": {
  "stdout": "",
  "stderr": "Cannot open network namespace \"ns-gone\": No such file or directory\n",
  "exitCode": 255
 },
 "[\"ip\",\"netns\",\"exec\",\"ns-green\",\"iptables\",\"-w\",\"-t\",\"filter\",\"-S\",\"FORWARD\"]": {
  "stdout": "-P FORWARD ACCEPT\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"cat\",\"/proc/sys/net/ipv4/ip_forward\"]": {
  "stdout": "1\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"netns\",\"exec\",\"ns-blue\",\"cat\",\"/proc/sys/net/ipv4/ip_forward\"]": {
  "stdout": "0\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"netns\",\"exec\",\"ns-green\",\"cat\",\"/proc/sys/net/ipv4/ip_forward\"]": {
  "stdout": "0\n",
  "stderr": "",
  "exitCode": 0
 },
 "[\"ip\",\"netns\",\"exec\",\"ns-gone\",\"cat\",\"/proc/sys/net/ipv4/ip_forward\"]": {
  "stdout": "",
  "stderr": "Cannot open network namespace \"ns-gone\": No such file or directory\n",
  "exitCode": 255
 }
}`) as Record<string, CommandResult>;
}
