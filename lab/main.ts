#!/usr/bin/env node
/**
 * The main job: `npm run lab` builds the lab stack (the root Pulumi.yaml, the
 * seed article's network) with the real engine, proves it with real pings,
 * and says how to look at it and how to tear it down (`npm run lab:down`).
 *
 * With no host configured (`linuxnet:host` in Pulumi.lab.yaml), it starts two
 * local lab hosts first: `h1`, where the network is built, and `up`, which
 * plays the internet that ns-blue reaches only through the NAT rule.
 * Running it again is harmless: the lab is reused and the second `up`
 * changes nothing.
 */

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { closeAllSessions, hostFor } from "../provider/transport";
import { resolveConnection } from "../provider/transport/connection";
import { type EngineStack, ROOT, hostConfig, openStack } from "./engine";
import { type LabJson, cleanupLab, readLabJson } from "./labhost";

const STACK = "lab";
const LAB_ID = process.env.LINUXNET_LAB_ID ?? "main";
/** The lab stack's passphrase; set PULUMI_CONFIG_PASSPHRASE to choose your own. */
const PASSPHRASE = process.env.PULUMI_CONFIG_PASSPHRASE ?? "linuxnet-lab";

function configuredHost(): boolean {
  const settings = path.join(ROOT, `Pulumi.${STACK}.yaml`);
  return (
    fs.existsSync(settings) &&
    /linuxnet:host:/.test(fs.readFileSync(settings, "utf8")) &&
    !ownedByLab()
  );
}

/** True when the settings file's host is the local lab's, written by an earlier run. */
function ownedByLab(): boolean {
  return fs.existsSync(path.join(ROOT, ".pulumi-state", STACK, "local-lab"));
}

async function localLab(): Promise<LabJson> {
  const running = await readLabJson(LAB_ID);
  if (running) {
    const alive = execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).includes(
      running.hosts[0]!.netns,
    );
    if (alive) return running;
  }
  console.log(`Starting local lab hosts h1 and up (lab "${LAB_ID}")...`);
  const out = execFileSync(
    process.execPath,
    [path.join(__dirname, "cli.js"), "up", "--id", LAB_ID, "--hosts", "h1,up", "--json"],
    { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
  );
  return JSON.parse(out) as LabJson;
}

async function up(): Promise<void> {
  const remote = configuredHost();
  const lab = remote ? undefined : await localLab();
  const target = lab?.hosts.find((h) => h.name === "h1");
  const upstream = lab?.hosts.find((h) => h.name === "up");

  const engine = await openStack({ workDir: ROOT, name: STACK, passphrase: PASSPHRASE });
  if (target) {
    await engine.stack.setAllConfig(hostConfig(target));
    fs.writeFileSync(path.join(engine.stateDir, "local-lab"), `${LAB_ID}\n`);
  }
  console.log(
    `Building the lab stack on ${target?.address ?? "the configured host"} with pulumi up...`,
  );
  const result = await engine.stack.up({ onOutput: (s) => process.stdout.write(s) });
  if (result.summary.result !== "succeeded") throw new Error(`pulumi up ${result.summary.result}`);

  const checks = await prove(engine, upstream?.address);
  const host = target?.address ?? (await engine.stack.getConfig("linuxnet:host")).value;
  console.log(`
The lab is up on ${host}. What was checked just now, for real:
${checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.what}`).join("\n")}

Look at it:${
    target
      ? `
  ssh -i ${target.privateKeyPath} -o UserKnownHostsFile=${lab!.knownHostsPath} root@${target.address}`
      : `
  ssh root@${host}`
  }
  ip netns list                                    # ns-blue, ns-green
  ip -br link show master br0                      # the bridge's ports
  ip netns exec ns-blue ip route                   # default via the bridge's gateway
  ip netns exec ns-blue ping -c 3 10.0.0.2         # blue -> green over br0
  iptables -t nat -S POSTROUTING                   # the MASQUERADE rule, tagged linuxnet:...

Tear it down (destroys the stack${lab ? " and removes the lab hosts" : ""}):
  npm run lab:down
`);
  if (checks.some((c) => !c.ok)) process.exitCode = 1;
}

/** Pings over SSH, as the stack's own connection reaches the host. */
async function prove(
  engine: EngineStack,
  upstream?: string,
): Promise<{ what: string; ok: boolean }[]> {
  const config = await engine.stack.getAllConfig();
  const { connection, failures } = resolveConnection({
    host: config["linuxnet:host"]?.value,
    privateKey: config["linuxnet:privateKey"]?.value,
    hostKey: config["linuxnet:hostKey"]?.value,
  });
  if (!connection) throw new Error(failures.map((f) => `${f.property}: ${f.reason}`).join("; "));
  const host = hostFor(connection);
  const ping = async (to: string) =>
    (await host.run(["ip", "netns", "exec", "ns-blue", "ping", "-c", "1", "-W", "2", to]))
      .exitCode === 0;
  const checks = [{ what: "ns-blue -> ns-green (10.0.0.2) over br0", ok: await ping("10.0.0.2") }];
  if (upstream) {
    checks.push({
      what: `ns-blue -> upstream ${upstream}, masqueraded out of eth0`,
      ok: await ping(upstream),
    });
  }
  await closeAllSessions();
  return checks;
}

async function down(): Promise<void> {
  const local = ownedByLab() || !configuredHost();
  const engine = await openStack({ workDir: ROOT, name: STACK, passphrase: PASSPHRASE });
  console.log("Destroying the lab stack...");
  await engine.stack.destroy({ onOutput: (s) => process.stdout.write(s) });
  if (local) {
    await engine.dispose();
    await cleanupLab(LAB_ID);
    console.log(`Removed the local lab hosts (lab "${LAB_ID}") and the stack's state.`);
  }
}

const command = process.argv[2];
(command === "up"
  ? up()
  : command === "down"
    ? down()
    : Promise.reject(new Error("usage: main.js up|down"))
)
  .then(() => closeAllSessions())
  .catch((e: Error) => {
    console.error(`lab: ${e.message}`);
    process.exit(1);
  });
