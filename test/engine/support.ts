/**
 * The engine tier's stacks: lab/engine.ts with a fresh backend per test and a
 * fixed, public passphrase.
 */

import type { ConfigMap } from "@pulumi/pulumi/automation";
import { type EngineStack, hostConfig, openStack } from "../../lab/engine";

export { ROOT } from "../../lab/engine";

/** The passphrase of test stacks' secrets: not a secret itself. */
export const TEST_PASSPHRASE = "linuxnet-test-passphrase";

/** A stack of a test project. */
export type TestStack = EngineStack;

/** A fresh stack named `name` for the project in `workDir`, on its own backend under .pulumi-state/. */
export function createTestStack(
  workDir: string,
  name: string,
  config: ConfigMap = {},
): Promise<TestStack> {
  return openStack({ workDir, name, passphrase: TEST_PASSPHRASE, config, fresh: true });
}

/** Stack config that points the `linuxnet:` default connection at a lab host. */
export const labHostConfig = hostConfig;
