/**
 * The real Pulumi engine for tests: the CLI from scripts/install-engine.sh,
 * driven through the Automation API, with a local file backend inside the
 * project (under .pulumi-state/), a passphrase secrets provider and no update
 * checks, so that nothing needs the internet. Each stack's state directory is
 * removed by its `dispose`.
 */

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  type ConfigMap,
  LocalWorkspace,
  PulumiCommand,
  type Stack,
} from "@pulumi/pulumi/automation";
import type { LabHost } from "../../lab/labhost";

/** The repository's root. */
export const ROOT = path.resolve(__dirname, "..", "..");

/** The passphrase of test stacks' secrets: not a secret itself. */
export const TEST_PASSPHRASE = "linuxnet-test-passphrase";

/**
 * The directory holding `pulumi`, the Node.js language host and the
 * dynamic-provider launcher. scripts/test.sh passes it in; run alone, the
 * tier installs it (seconds when cached, minutes when it must build).
 */
export function engineBin(): string {
  if (process.env.LINUXNET_ENGINE_BIN) return process.env.LINUXNET_ENGINE_BIN;
  const out = execFileSync("bash", [path.join(ROOT, "scripts", "install-engine.sh"), "--quiet"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  process.env.LINUXNET_ENGINE_BIN = out.trim().split("\n").pop()!;
  return process.env.LINUXNET_ENGINE_BIN;
}

/** A stack of a test project, and how to throw it away. */
export interface TestStack {
  readonly stack: Stack;
  /** The backend's directory: the state file lives under it. */
  readonly stateDir: string;
  /** The state file of this stack, as the file backend writes it. */
  stateFile(): string;
  /** Removes the stack's state (destroy it first). */
  dispose(): Promise<void>;
}

/**
 * Creates a stack for the Pulumi project in `workDir`, with its own file
 * backend under `.pulumi-state/<name>` in the repository.
 */
export async function createTestStack(
  workDir: string,
  name: string,
  config: ConfigMap = {},
): Promise<TestStack> {
  const bin = engineBin();
  const stateDir = path.join(ROOT, ".pulumi-state", name);
  fs.rmSync(stateDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(stateDir, "home"), { recursive: true });
  const envVars = {
    PATH: `${bin}:${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: TEST_PASSPHRASE,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_HOME: path.join(stateDir, "home"),
  };
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(bin) });
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: "test", workDir },
    { envVars, pulumiCommand, pulumiHome: envVars.PULUMI_HOME },
  );
  await stack.setAllConfig(config);
  return {
    stack,
    stateDir,
    stateFile() {
      const found = findFiles(path.join(stateDir, ".pulumi", "stacks"), (f) => f.endsWith("test.json"));
      if (!found[0]) throw new Error(`no state file under ${stateDir}`);
      return found[0];
    },
    async dispose() {
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

function findFiles(dir: string, match: (file: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? findFiles(p, match) : match(p) ? [p] : [];
  });
}

/** Stack config that points the `linuxnet:` default connection at a lab host. */
export function labHostConfig(host: LabHost): ConfigMap {
  return {
    "linuxnet:host": { value: host.address },
    "linuxnet:privateKey": { value: host.privateKey, secret: true },
    "linuxnet:hostKey": { value: host.hostKey },
  };
}
