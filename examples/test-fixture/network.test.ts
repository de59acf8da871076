/**
 * The suite: tests that use the network the global setup brought up. Each
 * logs in to the VM with its own SSH client (the system's `ssh`), as any test
 * of a service on it would.
 */

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, expect, inject, it } from "vitest";

const net = inject("network");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fixture-"));
const key = path.join(dir, "key");
const knownHosts = path.join(dir, "known_hosts");
fs.writeFileSync(key, net.privateKey, { mode: 0o600 });
fs.writeFileSync(knownHosts, `${net.address} ${net.hostKey}\n`);

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs a command on the VM over SSH; its stdout. */
function onVm(command: string): string {
  return execFileSync(
    "ssh",
    [
      ...["-i", key, "-o", `UserKnownHostsFile=${knownHosts}`, "-o", "StrictHostKeyChecking=yes"],
      ...["-o", "BatchMode=yes", `root@${net.address}`, command],
    ],
    { encoding: "utf8" },
  );
}

it("has the namespace on the VM", () => {
  expect(onVm("ip netns list")).toContain(net.namespace);
});

it("reaches the VM's end from inside the namespace", () => {
  expect(onVm(`ip netns exec ${net.namespace} ping -c1 -W2 ${net.gateway}`)).toContain(
    "1 received",
  );
});

// A failing test must not leave the network behind: the teardown runs all the same.
it.runIf(process.env.FIXTURE_FAIL === "1")("fails on purpose", () => {
  expect("the network").toBe("torn down even so");
});
