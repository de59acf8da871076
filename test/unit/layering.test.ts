import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");

/** The repository files a source file imports (relative specifiers, resolved to `.ts` paths). */
function ownImports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), "utf8");
  return [...text.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"(\.[^"]*)"/gm)].map(
    (m) => `${path.posix.join(path.posix.dirname(file), m[1]!)}.ts`,
  );
}

describe("layering", () => {
  it("shell quoting is a leaf: it imports nothing of ours", () => {
    expect(ownImports("provider/shell/quote.ts")).toEqual([]);
  });

  it("errors.ts imports nothing of ours but leaves (not the transport that throws its errors)", () => {
    const imports = ownImports("provider/errors.ts");
    expect(imports).toEqual(["provider/shell/quote.ts"]);
    for (const leaf of imports) expect(ownImports(leaf)).toEqual([]);
  });

  it("the lab harness quotes with the package's one quoting function", () => {
    expect(ownImports("lab/labhost.ts")).toContain("provider/shell/quote.ts");
  });
});
