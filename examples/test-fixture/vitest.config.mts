import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["examples/test-fixture/**/*.test.ts"],
    globalSetup: ["examples/test-fixture/global-setup.ts"],
    // Bringing a VM and its network up takes longer than vitest's default hook timeout.
    hookTimeout: 300_000,
  },
});
