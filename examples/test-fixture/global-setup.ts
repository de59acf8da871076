/**
 * Vitest global setup: brings the network up once before the suite with
 * Pulumi's Automation API (an inline program), hands its outputs to the tests
 * (`inject("network")`), and destroys it afterwards, whether the tests passed
 * or not: vitest runs the returned teardown in both cases, and a setup that
 * fails half way destroys what it made before it rethrows.
 *
 * The stack lives wherever PULUMI_BACKEND_URL says (e.g. `file://~/.pulumi-ci`),
 * with PULUMI_CONFIG_PASSPHRASE for its secrets; `pulumi` must be on PATH.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import type { TestProject } from "vitest/node";
import { type Network, program } from "./network";

declare module "vitest" {
  export interface ProvidedContext {
    network: Network;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The engine's provider process loads pulumi-linuxnet from its working directory: one
  // inside this project, so that it resolves from the project's node_modules.
  const workDir = path.join(__dirname, ".pulumi-work");
  fs.mkdirSync(workDir, { recursive: true });
  const stack = await LocalWorkspace.createOrSelectStack(
    {
      projectName: "test-fixture",
      stackName: process.env.FIXTURE_STACK ?? "ci",
      program: program(process.env.FIXTURE_FABRIC ?? "10.213.251.0/24"),
    },
    { workDir },
  );
  const teardown = async () => {
    await stack.destroy({ onOutput: (s) => process.stdout.write(s) });
    await stack.workspace.removeStack(stack.name);
    fs.rmSync(workDir, { recursive: true, force: true });
  };
  try {
    const up = await stack.up({ onOutput: (s) => process.stdout.write(s) });
    const outputs = Object.fromEntries(
      Object.entries(up.outputs).map(([k, v]) => [k, v.value]),
    ) as unknown as Network;
    project.provide("network", outputs);
  } catch (e) {
    await teardown().catch(() => undefined);
    throw e;
  }
  return teardown;
}
