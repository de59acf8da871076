import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  type MarkedObject,
  deleteOrphans,
  describeMarked,
  findMarked,
  isAdopted,
  orphansOf,
  ownersOfExport,
} from "../../../provider/resources/orphans";
import { RECORD_DIR, planRecordWrite, routeRecord } from "../../../provider/resources/owner";
import { type CommandResult, hostFromRun } from "../../../provider/transport";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await fs.rm(d, { recursive: true, force: true });
});

/** Runs argv on this machine, as a host would, with `/run/linuxnet` moved to `dir`. */
function runLocally(argv: readonly string[], dir: string): Promise<CommandResult> {
  const moved = argv.map((a) => a.replaceAll(RECORD_DIR, dir));
  return new Promise((resolve) => {
    execFile(moved[0]!, moved.slice(1), (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 127) : 0;
      resolve({
        stdout: stdout.replaceAll(dir, RECORD_DIR),
        stderr: stderr.replaceAll(dir, RECORD_DIR),
        exitCode: code,
      });
    });
  });
}

/**
 * A host with no namespace and no link, whose /run/linuxnet holds the records
 * given (written with the provider's own command, on this machine's grep),
 * and where every route asked about exists with metric 0.
 */
async function hostWithRecords(records: { file: string; lines: string[] }[]) {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "ownfix-records-"));
  dirs.push(dir);
  for (const { file, lines } of records) {
    const r = await runLocally(planRecordWrite(file, lines[0]!, ...lines.slice(1)), dir);
    expect(r.exitCode, r.stderr).toBe(0);
  }
  return hostFromRun("h1", async (argv) => {
    const line = argv.join(" ");
    if (line === "ip -json netns list") return { stdout: "", stderr: "", exitCode: 0 };
    if (line.startsWith("ip -json -details link show")) {
      return { stdout: "[]", stderr: "", exitCode: 0 };
    }
    if (line.startsWith("ip -json route show")) {
      return {
        stdout: JSON.stringify([{ dst: argv[6], protocol: "76" }]),
        stderr: "",
        exitCode: 0,
      };
    }
    if (argv[0] === "grep") return runLocally(argv, dir);
    throw new Error(`unexpected command: ${line}`);
  });
}

describe("findMarked", () => {
  it("finds a route whose record file name holds ':' (a prefix such as 10.78.0.0/16)", async () => {
    const mark = "linuxnet:ow/test/Route/rt";
    const record = routeRecord(undefined, "main", "10.78.0.0/16", 0);
    expect(record).toContain(":");
    const host = await hostWithRecords([
      { file: record, lines: [mark, "-", "main", "10.78.0.0/16", "0", "inet"] },
      {
        file: routeRecord("ns1", "100", "default", 5),
        lines: ["linuxnet:ow/test/Route/d", "ns1", "100", "default", "5", "inet"],
      },
    ]);
    const found = await findMarked(host);
    // ns1 does not exist: its route is not there either.
    expect(found).toEqual([
      {
        type: "route",
        table: "main",
        destination: "10.78.0.0/16",
        metric: 0,
        family: "inet",
        record,
        mark,
      },
    ]);
  });

  it("finds nothing when /run/linuxnet does not exist", async () => {
    const host = await hostWithRecords([]);
    expect(await findMarked(host)).toEqual([]);
  });
});

describe("ownersOfExport", () => {
  const exportOf = (...urns: string[]) => ({
    version: 3,
    deployment: { resources: urns.map((urn) => ({ urn, type: "pulumi:pulumi:Stack" })) },
  });
  const stackUrn = "urn:pulumi:test::ow::pulumi:pulumi:Stack::ow-test";

  it("takes the stack from the export's URNs", () => {
    expect(ownersOfExport(exportOf(stackUrn)).prefix).toBe("linuxnet:ow/test/");
  });

  it("takes --stack when the export holds no resource", () => {
    expect(ownersOfExport(exportOf(), "ow/test").prefix).toBe("linuxnet:ow/test/");
  });

  it("accepts --stack naming the same stack as the export's URNs", () => {
    expect(ownersOfExport(exportOf(stackUrn), "ow/test").prefix).toBe("linuxnet:ow/test/");
  });

  it("refuses --stack naming another stack than the export's URNs, naming both", () => {
    // Otherwise every object of ow/prod would read as an orphan of this export, and --delete take it.
    expect(() => ownersOfExport(exportOf(stackUrn), "ow/prod")).toThrow(
      /export of stack ow\/test, but --stack ow\/prod names another/,
    );
  });

  it("never lists another stack's objects as orphans", () => {
    const owners = ownersOfExport(exportOf(stackUrn));
    const found = [
      { type: "namespace", name: "a", mark: "linuxnet:ow/prod/Namespace/a" },
      { type: "namespace", name: "b", mark: "linuxnet:ow/test/Namespace/b" },
    ] as const;
    expect(orphansOf(found, owners).map((o) => o.mark)).toEqual(["linuxnet:ow/test/Namespace/b"]);
  });
});

describe("an adopted object", () => {
  const owners = ownersOfExport(
    {
      deployment: {
        resources: [
          {
            urn: "urn:pulumi:test::ow::pulumi-nodejs:dynamic/linuxnet:Bridge::held",
            type: "pulumi-nodejs:dynamic/linuxnet:Bridge",
          },
        ],
      },
    },
    undefined,
  );
  const found: MarkedObject[] = [
    { type: "link", name: "br0", kind: "bridge", mark: "linuxnet:ow/test/Bridge/gone;adopted" },
    { type: "link", name: "br1", kind: "bridge", mark: "linuxnet:ow/test/Bridge/held;adopted" },
    { type: "link", name: "br2", kind: "bridge", mark: "linuxnet:ow/test/Bridge/made" },
  ];

  it("is an orphan when its resource left the export, and is described as adopted", () => {
    const orphans = orphansOf(found, owners);
    expect(orphans.map((o) => o.mark)).toEqual([
      "linuxnet:ow/test/Bridge/gone;adopted",
      "linuxnet:ow/test/Bridge/made",
    ]);
    expect(orphans.map(isAdopted)).toEqual([true, false]);
    expect(describeMarked(orphans[0]!)).toMatch(
      /br0 \(bridge\) .*;adopted +adopted .*never deleted/,
    );
    expect(describeMarked(orphans[1]!)).not.toMatch(/adopted/);
  });

  it("is never deleted by deleteOrphans", async () => {
    const ran: string[] = [];
    const host = hostFromRun("h1", async (argv) => {
      ran.push(argv.join(" "));
      return { stdout: "", stderr: "", exitCode: 0 };
    });
    await deleteOrphans(host, orphansOf(found, owners));
    expect(ran.join("\n")).toMatch(/br2/);
    expect(ran.join("\n")).not.toMatch(/br0|br1/);
  });
});
