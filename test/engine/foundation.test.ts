/**
 * The first end-to-end proof: the real engine deploys a dynamic resource
 * whose provider runs `uname -r` on a lab host over SSH, and the result
 * matches what the host itself says.
 */

import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../lab/labhost";
import { createTestStack, labHostConfig, type TestStack } from "./support";

describe("the engine chain", () => {
  let lab: Lab;
  let test: TestStack;

  beforeAll(async () => {
    lab = await startLab({ id: "tfound", hosts: [{ name: "h1" }] });
    test = await createTestStack(
      path.join(__dirname, "fixtures", "uname"),
      "foundation",
      labHostConfig(lab.host("h1")),
    );
  });

  afterAll(async () => {
    await test?.dispose();
    await lab?.teardown();
  });

  it("runs a command over SSH from the dynamic-provider process and destroys cleanly", async () => {
    const up = await test.stack.up();
    expect(up.summary.result).toBe("succeeded");
    expect(up.summary.resourceChanges?.create).toBe(2); // the stack and the resource

    const onHost = await lab.host("h1").exec(["uname", "-r"]);
    expect(up.outputs.kernel?.value).toBe(onHost.stdout.trim());
    // The provider ran in its own process, not in the program's.
    expect(up.outputs.providerPid?.value).not.toBe(up.outputs.programPid?.value);

    const destroy = await test.stack.destroy();
    expect(destroy.summary.result).toBe("succeeded");
    expect(destroy.summary.resourceChanges?.delete).toBe(2);
  });
});
