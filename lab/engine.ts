/**
 * The real Pulumi engine, as the demo, the tests and the benchmark drive it:
 * the CLI from scripts/install-engine.sh through the Automation API, with a
 * local file backend inside the project (`.pulumi-state/<name>`), a
 * passphrase secrets provider and no update checks or plugin downloads, so
 * that nothing needs the internet.
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

/** The repository's root (this file is lab/engine.ts, or dist/lab/engine.js). */
export const ROOT = [path.resolve(__dirname, ".."), path.resolve(__dirname, "..", "..")].find((d) =>
  fs.existsSync(path.join(d, "scripts", "install-engine.sh")),
)!;

/**
 * The directory holding `pulumi`, the Node.js language host and the
 * dynamic-provider launcher: `LINUXNET_ENGINE_BIN`, or what the install
 * script gives (seconds when cached, minutes when it must build).
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

/** One stack of a project, on its own file backend. */
export interface EngineStack {
  readonly stack: Stack;
  /** The backend's directory: the state file lives under it. */
  readonly stateDir: string;
  /** The environment the CLI runs with (PATH, backend, passphrase). */
  readonly env: Record<string, string>;
  /** The state file of this stack, as the file backend writes it. */
  stateFile(): string;
  /** Runs the pulumi CLI on this stack as a user would (e.g. `stack export`); returns stdout. */
  cli(args: string[]): string;
  /** Removes the stack's state and settings file (destroy it first). */
  dispose(): Promise<void>;
}

/** How to open a stack with {@link openStack}. */
export interface OpenStackOptions {
  /** The directory with the project's Pulumi.yaml. */
  workDir: string;
  /** The stack's name; also the name of its backend directory under `.pulumi-state/`. */
  name: string;
  /** The secrets passphrase. */
  passphrase: string;
  /** Config to set (a secret value stays encrypted in the settings file). */
  config?: ConfigMap;
  /** Start from nothing: drop earlier state and settings of this stack. */
  fresh?: boolean;
  /** More environment for the CLI and the processes it starts (the provider's). */
  env?: Record<string, string>;
}

/** Opens (creating when needed) a stack on its own file backend. */
export async function openStack(opts: OpenStackOptions): Promise<EngineStack> {
  const bin = engineBin();
  const { workDir, name } = opts;
  const stateDir = path.join(ROOT, ".pulumi-state", name);
  // A stack's settings file lives beside its Pulumi.yaml, not in the backend.
  const settingsFile = path.join(workDir, `Pulumi.${name}.yaml`);
  if (opts.fresh) {
    fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(settingsFile, { force: true });
  }
  fs.mkdirSync(path.join(stateDir, "home"), { recursive: true });
  const env = {
    PATH: `${bin}:${process.env.PATH}`,
    PULUMI_BACKEND_URL: `file://${stateDir}`,
    PULUMI_CONFIG_PASSPHRASE: opts.passphrase,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    PULUMI_HOME: path.join(stateDir, "home"),
    ...opts.env,
  };
  const pulumiCommand = await PulumiCommand.get({ root: path.dirname(bin) });
  const stack = await LocalWorkspace.createOrSelectStack(
    { stackName: name, workDir },
    { envVars: env, pulumiCommand, pulumiHome: env.PULUMI_HOME },
  );
  if (opts.config) await stack.setAllConfig(opts.config);
  return {
    stack,
    stateDir,
    env,
    stateFile() {
      const found = findFiles(path.join(stateDir, ".pulumi", "stacks"), (f) =>
        f.endsWith(`${name}.json`),
      );
      if (!found[0]) throw new Error(`no state file under ${stateDir}`);
      return found[0];
    },
    cli(args) {
      return execFileSync(
        path.join(bin, "pulumi"),
        [...args, "--stack", name, "--non-interactive"],
        {
          cwd: workDir,
          env: { ...process.env, ...env },
          encoding: "utf8",
        },
      );
    },
    async dispose() {
      fs.rmSync(stateDir, { recursive: true, force: true });
      fs.rmSync(settingsFile, { force: true });
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

/** Stack config that points the `linuxnet:` default connection at a host. */
export function hostConfig(host: {
  address: string;
  privateKey: string;
  hostKey: string;
}): ConfigMap {
  return {
    "linuxnet:host": { value: host.address },
    "linuxnet:privateKey": { value: host.privateKey, secret: true },
    "linuxnet:hostKey": { value: host.hostKey },
  };
}
