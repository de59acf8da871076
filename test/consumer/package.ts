/**
 * The package as a user gets it: packed from a clean checkout of this
 * repository (what git tracks and nothing it ignores: no dist/, no
 * node_modules/), then installed into fresh projects outside the repository
 * with the user's own `@pulumi/pulumi`, `typescript` and `ts-node`.
 */

import { execFile } from "node:child_process";
import { builtinModules } from "node:module";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import ts from "typescript";

const execFileAsync = promisify(execFile);

/**
 * The environment for npm and node run on the user's behalf: without the
 * `npm_*` variables that `npx vitest` hands down, which would make a nested
 * npm act for this repository instead of the project it runs in.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_")),
  );
  return {
    ...env,
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    ...extra,
  };
}

/** Runs a command in `cwd`; throws with its output when it fails. */
export async function sh(
  cwd: string,
  argv: string[],
  env: NodeJS.ProcessEnv = userEnv(),
): Promise<string> {
  try {
    const { stdout } = await execFileAsync(argv[0]!, argv.slice(1), {
      cwd,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    throw new Error(
      `running "${argv.join(" ")}" in ${cwd}: exit ${err.code}\n${err.stdout ?? ""}\n${err.stderr ?? ""}`,
    );
  }
}

/** A new directory under the system's temporary directory: outside the repository. */
export function scratchDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `linuxnet-${prefix}-`));
}

/**
 * A clean checkout of the repository at `root` in `dest`: every file git
 * tracks or would track (untracked but not ignored), as the working tree has
 * it, committed in a fresh repository so that `npm install git+file://...`
 * works on it as on the real one.
 */
export async function cleanCheckout(root: string, dest: string): Promise<void> {
  const listed = await sh(root, [
    "git",
    "ls-files",
    "-z",
    "--cached",
    "--others",
    "--exclude-standard",
  ]);
  for (const file of listed.split("\0").filter(Boolean)) {
    const from = path.join(root, file);
    const stat = await fs.lstat(from).catch(() => undefined);
    if (!stat || stat.isDirectory()) continue; // deleted in the working tree, or a submodule
    await fs.mkdir(path.dirname(path.join(dest, file)), { recursive: true });
    await fs.cp(from, path.join(dest, file), { verbatimSymlinks: true });
  }
  await sh(dest, ["git", "init", "-q"]);
  await sh(dest, ["git", "add", "-A"]);
  await sh(dest, [
    "git",
    "-c",
    "user.name=consumer tier",
    "-c",
    "user.email=consumer@localhost",
    "commit",
    "-q",
    "-m",
    "clean checkout",
  ]);
}

/** A packed package: the tarball, and the files in it (without the `package/` prefix). */
export interface Packed {
  readonly tarball: string;
  readonly files: readonly string[];
}

/**
 * `npm pack` of a clean checkout, as a user or a registry would get it:
 * dependencies installed without running any script, so that only the
 * package's own `prepare` (run by `npm pack`) can have built it.
 */
export async function pack(checkout: string, into: string): Promise<Packed> {
  await sh(checkout, ["npm", "ci", "--ignore-scripts"]);
  const out = await sh(checkout, ["npm", "pack", "--json", "--pack-destination", into]);
  const [info] = JSON.parse(out.slice(out.indexOf("["))) as {
    filename: string;
    files: { path: string }[];
  }[];
  return { tarball: path.join(into, info!.filename), files: info!.files.map((f) => f.path).sort() };
}

/** The package name a bare module specifier names (`@scope/name/sub` → `@scope/name`). */
export function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/**
 * Every module specifier a built file asks for (`require`, `import`,
 * `import()`, `/// <reference types>`), found by TypeScript's own scanner,
 * so that a specifier quoted in a comment (TSDoc examples) does not count.
 */
export function specifiersIn(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return [
    ...new Set([
      ...info.importedFiles.map((f) => f.fileName),
      ...info.typeReferenceDirectives.map((f) => f.fileName),
    ]),
  ];
}

/**
 * What the files of an unpacked package ask for that a user's install would
 * not have: a package that is neither a dependency nor a peer dependency
 * (nor Node's own, nor the package itself), or a relative path that is not
 * in the package.
 */
export async function undeclaredImports(
  packageDir: string,
  files: readonly string[],
): Promise<string[]> {
  const manifest = JSON.parse(await fs.readFile(path.join(packageDir, "package.json"), "utf8")) as {
    name: string;
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  const declared = new Set([
    manifest.name, // a package may name itself (its own exports)
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
  ]);
  const shipped = new Set(files);
  const problems: string[] = [];
  for (const file of files.filter((f) => f.endsWith(".js") || f.endsWith(".d.ts"))) {
    const source = await fs.readFile(path.join(packageDir, file), "utf8");
    for (const spec of specifiersIn(source)) {
      if (spec.startsWith(".")) {
        const base = path.posix.join(path.posix.dirname(file), spec);
        const candidates = [
          base,
          `${base}.js`,
          `${base}.d.ts`,
          `${base}/index.js`,
          `${base}/index.d.ts`,
        ];
        if (!candidates.some((c) => shipped.has(c)))
          problems.push(`${file}: "${spec}" is not in the package`);
      } else if (
        !spec.startsWith("node:") &&
        !builtinModules.includes(spec) &&
        !declared.has(packageOf(spec))
      ) {
        problems.push(`${file}: "${spec}" is not a dependency or peer dependency`);
      }
    }
  }
  return problems;
}

/** A fresh user project: its directory and the `@pulumi/pulumi` it has. */
export interface ConsumerProject {
  readonly dir: string;
  readonly sdk: string;
}

/** Versions a new Pulumi TypeScript project gets besides the SDK (as in Pulumi's template). */
export const USER_TOOLS = {
  typescript: "~5.9.3",
  "ts-node": "^10.9.2",
  "@types/node": "^20.19.0",
};

/**
 * A new project in its own directory with the user's own `@pulumi/pulumi` at
 * `sdk` and the packed package, installed by npm as a user would.
 */
export async function consumerProject(tarball: string, sdk: string): Promise<ConsumerProject> {
  const dir = await scratchDir(`consumer-${sdk}`);
  await fs.writeFile(
    path.join(dir, "package.json"),
    JSON.stringify(
      {
        name: "linuxnet-consumer",
        private: true,
        dependencies: { "@pulumi/pulumi": sdk, "pulumi-linuxnet": `file:${tarball}` },
        devDependencies: USER_TOOLS,
      },
      null,
      2,
    ),
  );
  await sh(dir, ["npm", "install"]);
  return { dir, sdk };
}

/** Every copy of a package under a project's node_modules, as `{ path, version }`. */
export async function copiesOf(
  projectDir: string,
  name: string,
): Promise<{ path: string; version: string }[]> {
  const out = await sh(projectDir, [
    "find",
    "node_modules",
    "-path",
    `*node_modules/${name}/package.json`,
  ]);
  const copies = [];
  for (const file of out.split("\n").filter(Boolean)) {
    const { version } = JSON.parse(await fs.readFile(path.join(projectDir, file), "utf8")) as {
      version: string;
    };
    copies.push({ path: path.dirname(file), version });
  }
  return copies;
}
