/**
 * The consumer tier: the package as a user gets it. Packed from a clean
 * checkout, installed into fresh projects outside the repository with the
 * user's own `@pulumi/pulumi` at both ends of the supported range, and
 * driven through the real engine by generated programs (TypeScript and
 * plain JavaScript) that declare every kind with every optional input
 * present and absent: preview, up (the kernel checked out of band), a
 * no-change up, a no-change refresh, destroy back to the host as it was.
 */

import { execFileSync } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigMap } from "@pulumi/pulumi/automation";
import { type Lab, type LabHost, startLab } from "../../lab/labhost";
import {
  ROOT,
  TEST_PASSPHRASE,
  createTestStack,
  labHostConfig,
  type TestStack,
} from "../engine/support";
import { type HostSnapshot, snapshotHost } from "../support/snapshot";
import { unmet } from "./kernel";
import {
  type Configuration,
  LAB_SECRET_KEYS,
  falsified,
  matrix,
  netemMatrix,
  programSource,
} from "./matrix";
import { kernelLacksQdisc, notVerified } from "../support/not-verified";
import {
  type ConsumerProject,
  type Packed,
  cleanCheckout,
  consumerProject,
  copiesOf,
  pack,
  scratchDir,
  sh,
  undeclaredImports,
  userEnv,
} from "./package";

/**
 * The ends of the `@pulumi/pulumi` range the package declares as its peer:
 * the oldest release whose dynamic providers get `configure()`, and the
 * newest 3.x release when this was written.
 */
const SDK_RANGE = { lower: "3.139.0", upper: "3.276.0" } as const;
const PEER_RANGE = `>=${SDK_RANGE.lower} <4.0.0`;
const KEY_PASSPHRASE = "consumer-tier-key-passphrase";
/** The lab sudo user's login (and sudo) password: a secret that must never reach the export. */
const SUDO_USER_PASSWORD = "consumer-tier-login-Pa55";

const CONFIGS: Configuration[] = matrix();
/** What the kernel must show, in all. */
const EXPECTATIONS = CONFIGS.reduce((n, c) => n + c.expect.length, 0);
/** Resources the programs declare, plus the stack itself. */
const RESOURCES = CONFIGS.reduce((n, c) => n + c.decls.length, 0) + 1;

/** A namespace of the matrix that `linuxnet graph` must draw: one joined to another by a veth. */
const DRAWN_NAMESPACE = CONFIGS.find((c) => c.label.includes("both ends in namespaces"))!.decls[0]!
  .name;

const TS_CONFIG = {
  // What `pulumi new typescript` writes: note, no skipLibCheck, so our declarations are checked too.
  compilerOptions: {
    strict: true,
    outDir: "bin",
    target: "es2020",
    module: "commonjs",
    moduleResolution: "node",
    sourceMap: true,
    experimentalDecorators: true,
    pretty: true,
    noFallthroughCasesInSwitch: true,
    noImplicitReturns: true,
    forceConsistentCasingInFileNames: true,
  },
  files: ["index.ts"],
};

let scratch: string;
let packed: Packed;
let unpacked: string;
let checkout: string;
let lab: Lab;
let h1: LabHost;
let jump: LabHost;
let agent: { socket: string; pid: string } | undefined;
let encryptedKey: string;
let before: HostSnapshot;

beforeAll(async () => {
  scratch = await scratchDir("consumer-tier");
  checkout = path.join(scratch, "checkout");
  await cleanCheckout(ROOT, checkout);
  packed = await pack(checkout, scratch);
  unpacked = path.join(scratch, "unpacked");
  await fs.mkdir(unpacked);
  await sh(unpacked, ["tar", "-xzf", packed.tarball, "--strip-components=1"]);

  lab = await startLab({
    id: "tcons",
    hosts: [{ name: "h1", sudoUser: true, password: SUDO_USER_PASSWORD }, { name: "jump" }],
  });
  h1 = lab.host("h1");
  jump = lab.host("jump");
  // The same key twice more: behind a passphrase, and held by an ssh-agent.
  const encryptedPath = path.join(scratch, "key-with-passphrase");
  await fs.copyFile(h1.privateKeyPath, encryptedPath);
  await fs.chmod(encryptedPath, 0o600);
  await sh(scratch, [
    "ssh-keygen",
    "-q",
    "-p",
    "-P",
    "",
    "-N",
    KEY_PASSPHRASE,
    "-f",
    encryptedPath,
  ]);
  encryptedKey = await fs.readFile(encryptedPath, "utf8");
  const socket = path.join(scratch, "agent.sock");
  const started = await sh(scratch, ["ssh-agent", "-a", socket, "-s"]);
  agent = { socket, pid: /SSH_AGENT_PID=(\d+)/.exec(started)![1]! };
  await sh(scratch, ["ssh-add", "-q", h1.privateKeyPath], userEnv({ SSH_AUTH_SOCK: socket }));
  before = await snapshotHost(h1);
}, 600_000);

afterAll(async () => {
  if (agent) process.kill(Number(agent.pid));
  await lab?.teardown();
  if (scratch && !process.env.LINUXNET_KEEP_CONSUMER)
    await fs.rm(scratch, { recursive: true, force: true });
});

describe("the packed package", () => {
  it("holds the built JavaScript, its declarations, README, LICENSE and package.json, and nothing else", () => {
    const files = packed.files;
    for (const needed of [
      "package.json",
      "README.md",
      "LICENSE",
      "dist/provider/index.js",
      "dist/provider/index.d.ts",
      "dist/provider/runtime.js",
      "dist/provider/cli/linuxnet.js",
      // linuxnet.lab.LabHost and `linuxnet lab` run the lab harness, which ships for them.
      "dist/lab/labhost.js",
      "dist/lab/cli.js",
    ]) {
      expect(files, needed).toContain(needed);
    }
    const unexpected = files.filter(
      (f) =>
        !["package.json", "README.md", "LICENSE"].includes(f) &&
        !/^dist\/lab\/(labhost|cli)\.(js|d\.ts)$/.test(f) &&
        !(f.startsWith("dist/provider/") && (f.endsWith(".js") || f.endsWith(".d.ts"))),
    );
    expect(unexpected).toEqual([]);
  });

  it("asks for no module that a user's install does not provide", async () => {
    expect(await undeclaredImports(unpacked, packed.files)).toEqual([]);
  });

  it("declares @pulumi/pulumi as a peer with a range, and no copy of its own", async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(unpacked, "package.json"), "utf8"));
    expect(manifest.peerDependencies).toEqual({ "@pulumi/pulumi": PEER_RANGE });
    expect(manifest.dependencies["@pulumi/pulumi"]).toBeUndefined();
    // The repository builds against one exact version inside that range.
    const own = JSON.parse(await fs.readFile(path.join(ROOT, "package.json"), "utf8"));
    expect(own.devDependencies["@pulumi/pulumi"]).toMatch(/^3\.\d+\.\d+$/);
  });

  it("keeps the module that state files name at the same public path", async () => {
    const manifest = JSON.parse(await fs.readFile(path.join(unpacked, "package.json"), "utf8"));
    expect(manifest.exports["./dist/provider/runtime.js"]).toBe("./dist/provider/runtime.js");
  });

  it("installs from a git URL, built by its prepare script, and runs npx linuxnet", async () => {
    const dir = await scratchDir("consumer-git");
    try {
      await fs.writeFile(path.join(dir, "package.json"), '{ "name": "from-git", "private": true }');
      // npm clones it, installs its devDependencies, runs its prepare (the build), then packs it.
      await sh(dir, ["npm", "install", `git+file://${checkout}`]);
      const installed = path.join(dir, "node_modules", "pulumi-linuxnet");
      await fs.access(path.join(installed, "dist", "provider", "index.js"));
      await fs.access(path.join(installed, "dist", "provider", "index.d.ts"));
      expect(await sh(dir, ["npx", "--no-install", "linuxnet", "--help"])).toMatch(
        /usage:\s+linuxnet doctor/,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe.each([SDK_RANGE.lower, SDK_RANGE.upper])(
  "in a new project with @pulumi/pulumi %s",
  (sdk) => {
    let project: ConsumerProject;

    beforeAll(async () => {
      project = await consumerProject(packed.tarball, sdk);
    }, 600_000);

    afterAll(async () => {
      if (project && !process.env.LINUXNET_KEEP_CONSUMER)
        await fs.rm(project.dir, { recursive: true, force: true });
    });

    it("has exactly one @pulumi/pulumi, the user's", async () => {
      expect(await copiesOf(project.dir, "@pulumi/pulumi")).toEqual([
        { path: "node_modules/@pulumi/pulumi", version: sdk },
      ]);
    });

    it("runs npx linuxnet from the installed package", async () => {
      expect(await sh(project.dir, ["npx", "--no-install", "linuxnet", "--help"])).toMatch(
        /usage:/,
      );
    });

    describe.each(["ts", "js"] as const)("a %s program of the whole matrix", (language) => {
      let dir: string;
      let test: TestStack;

      beforeAll(async () => {
        dir = path.join(project.dir, language);
        await fs.mkdir(dir, { recursive: true });
        const main = `index.${language}`;
        await fs.writeFile(path.join(dir, main), programSource(CONFIGS, language));
        await fs.writeFile(
          path.join(dir, "Pulumi.yaml"),
          `name: linuxnet-consumer-${language}\nruntime:\n  name: nodejs\n  options:\n    typescript: ${language === "ts"}\nmain: ${main}\n`,
        );
        if (language === "ts")
          await fs.writeFile(path.join(dir, "tsconfig.json"), JSON.stringify(TS_CONFIG, null, 2));
        const config: ConfigMap = { ...labHostConfig(h1) };
        const lab = {
          host: h1.address,
          key: h1.privateKey,
          hostKey: h1.hostKey,
          fingerprint: h1.hostKeyFingerprint,
          encryptedKey,
          passphrase: KEY_PASSPHRASE,
          agentSocket: agent!.socket,
          sudoUser: h1.sudoUser!,
          jumpHost: jump.address,
          jumpHostKey: jump.hostKey,
          password: SUDO_USER_PASSWORD,
        };
        for (const [k, value] of Object.entries(lab))
          config[k] = { value, secret: LAB_SECRET_KEYS.has(k) };
        test = await createTestStack(dir, `consumer-${sdk}-${language}`, config);
      }, 600_000);

      afterAll(async () => {
        await test?.stack.destroy().catch(() => undefined);
        await test?.dispose();
      });

      if (language === "ts") {
        it("type-checks with the user's compiler and settings", async () => {
          await sh(dir, [
            path.join(project.dir, "node_modules", ".bin", "tsc"),
            "--noEmit",
            "-p",
            ".",
          ]);
        });
      }

      it(`previews ${RESOURCES} creations and touches nothing`, async () => {
        const preview = await test.stack.preview();
        expect(preview.changeSummary).toEqual({ create: RESOURCES });
        expect(await snapshotHost(h1)).toEqual(before);
      });

      it(`creates all ${CONFIGS.length} configurations, as the kernel shows out of band`, async () => {
        const up = await test.stack.up();
        expect(up.summary.resourceChanges).toEqual({ create: RESOURCES });
        const names = up.outputs.names?.value as Record<string, unknown>;
        expect(await unmet(h1, CONFIGS, names)).toEqual([]);
        // The same check finds every expectation of a falsified matrix unmet: it can fail.
        expect(await unmet(h1, falsified(CONFIGS), names)).toHaveLength(EXPECTATIONS);
      });

      it("changes nothing on a second up", async () => {
        await test.stack.preview({ expectNoChanges: true });
        const up = await test.stack.up();
        expect(up.summary.resourceChanges).toEqual({ same: RESOURCES });
      });

      it("changes nothing on refresh", async () => {
        const refresh = await test.stack.refresh();
        expect(refresh.summary.resourceChanges).toEqual({ same: RESOURCES });
        await test.stack.preview({ expectNoChanges: true });
      });

      it("stores a provider that loads the package by name, never by a path of this machine", async () => {
        const resources = (await test.stack.exportStack()).deployment.resources as {
          type: string;
          inputs?: { __provider?: string };
        }[];
        const providers = new Set(
          resources
            .filter((r) => r.type.startsWith("pulumi-nodejs:dynamic/linuxnet:"))
            .map((r) => r.inputs?.__provider?.replace(/handler\("[A-Za-z]+"\)/, 'handler("Kind")')),
        );
        expect([...providers]).toEqual([
          'exports.handler = () => require("pulumi-linuxnet/dist/provider/runtime.js").handler("Kind");\n',
        ]);
      });

      it("keeps keys and passphrases out of the stack export, which the installed CLI can draw", async () => {
        const exported = test.cli(["stack", "export"]);
        const secrets = [h1.privateKey, encryptedKey]
          .flatMap((k) => k.trim().split("\n"))
          .filter((l) => !l.startsWith("-----"));
        for (const line of [...secrets, KEY_PASSPHRASE, TEST_PASSPHRASE, SUDO_USER_PASSWORD])
          expect(exported).not.toContain(line);
        const file = path.join(dir, "export.json");
        await fs.writeFile(file, exported);
        const graph = execFileSync(
          path.join(project.dir, "node_modules", ".bin", "linuxnet"),
          ["graph", "--stack-export", file],
          { encoding: "utf8", env: userEnv() },
        );
        expect(graph).toContain(DRAWN_NAMESPACE);
      });

      it("destroys everything, leaving the host exactly as before", async () => {
        const destroy = await test.stack.destroy();
        expect(destroy.summary.resourceChanges).toEqual({ delete: RESOURCES });
        expect(await snapshotHost(h1)).toEqual(before);
      });

      // netem values through the engine once (the newest SDK, TypeScript): apart from the
      // matrix, because a kernel without sch_netem refuses them, and the matrix must deploy.
      if (sdk === SDK_RANGE.upper && language === "ts") {
        const NETEM = netemMatrix();
        const useNetemProgram = () =>
          fs.writeFile(path.join(dir, "index.ts"), programSource(NETEM, "ts"));

        it("deploys every netem value where the kernel has sch_netem", async (t) => {
          const lacks = await kernelLacksQdisc(h1, "netem");
          if (lacks) notVerified(t, lacks);
          await useNetemProgram();
          const up = await test.stack.up();
          expect(await unmet(h1, NETEM, up.outputs.names?.value ?? {})).toEqual([]);
          await test.stack.destroy();
          expect(await snapshotHost(h1)).toEqual(before);
        });

        it("fails at up naming sch_netem where the kernel lacks it, and leaves the host as it was", async (t) => {
          if (!(await kernelLacksQdisc(h1, "netem"))) {
            notVerified(t, "kernel has sch_netem: the missing-module error cannot be shown here");
          }
          await useNetemProgram();
          // Every row attempted, not only the first to fail: both must name the module.
          const failed = await test.stack.up({ continueOnError: true }).then(
            () => "up succeeded",
            (e: Error) => e.message,
          );
          expect(failed).toMatch(
            /rate, delay, jitter, loss, duplicate, reorder on n01a need the kernel module sch_netem/,
          );
          expect(failed).toMatch(/loss on n02b needs the kernel module sch_netem/);
          await test.stack.destroy();
          expect(await snapshotHost(h1)).toEqual(before);
        });
      }
    });
  },
);
