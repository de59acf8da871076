// Four tiers, run one after another by scripts/test.sh so that each reports
// its own counts: unit (pure logic), host (real lab hosts over SSH), engine
// (the real Pulumi engine against lab hosts) and consumer (the packed package
// installed into fresh projects, through the real engine).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.test.ts"] } },
      {
        test: {
          name: "host",
          include: ["test/host/**/*.test.ts"],
          // Lab hosts are namespaces and sshd processes on this one machine: one file at a time.
          fileParallelism: false,
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: "engine",
          include: ["test/engine/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: "consumer",
          include: ["test/consumer/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
