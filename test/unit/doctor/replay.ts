/**
 * Recorded hosts for the unit tier: every command the doctor ran on a real lab
 * host (the lab stack's network, built by hand), with what the host answered.
 * Replaying them runs the doctor's whole walk without a host; a command that
 * was not recorded fails the test, so a change to what the doctor runs shows.
 *
 * Re-record with fixtures/record.js after such a change (see its header).
 */

import { readFileSync } from "node:fs";
import * as path from "node:path";
import { type Host, hostFromRun } from "../../../provider/transport";
import { quoteArgv } from "../../../provider/transport/quote";
import type { World } from "../../../provider/doctor/world";
import { parseLinks, parseNamespaceNames, parseNsids } from "../../../provider/doctor/world";

interface Recording {
  readonly host: string;
  readonly calls: Record<string, { stdout: string; stderr: string; exitCode: number }>;
}

/** A fixture file under fixtures/, parsed. */
export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(path.join(__dirname, "fixtures", name), "utf8")) as T;
}

/** A {@link Host} that answers from a recording, and the commands it was asked. */
export function replayHost(name: string): Host & { asked: string[] } {
  const rec = fixture<Recording>(name);
  const asked: string[] = [];
  const run = async (argv: readonly string[]) => {
    const key = quoteArgv(argv);
    asked.push(key);
    const r = rec.calls[key];
    if (!r) throw new Error(`not in the recording ${name}: ${key}`);
    return r;
  };
  return { ...hostFromRun(rec.host, run), asked };
}

/** The world (every namespace's links) of a recording, parsed without the reader. */
export function recordedWorld(name: string): World {
  const rec = fixture<Recording>(name);
  const names = parseNamespaceNames(rec.calls["ip -json netns list"]!.stdout);
  return {
    namespaces: [undefined, ...names].map((ns) => {
      const prefix = ns ? `ip -n ${ns} ` : "ip ";
      return {
        name: ns,
        links: parseLinks(rec.calls[`${prefix}-json -details addr show`]!.stdout, ns),
        nsids: parseNsids(rec.calls[`${prefix}-json netns list-id`]!.stdout),
      };
    }),
  };
}
