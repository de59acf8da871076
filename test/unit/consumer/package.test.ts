import { describe, expect, it } from "vitest";
import { packageOf, specifiersIn } from "../../consumer/package";

// The consumer tier's scan of a packed package: what it counts as an import decides whether an
// undeclared dependency (execa in dist/lab, once) is caught.

describe("specifiersIn", () => {
  it("finds require, import and import() in built JavaScript and declarations", () => {
    const js = `"use strict";\nconst a = require("ssh2");\nconst b = require("./transport");\nasync function f() { return import("execa"); }\n`;
    expect(specifiersIn(js).sort()).toEqual(["./transport", "execa", "ssh2"]);
    const dts = `import * as pulumi from "@pulumi/pulumi";\nexport type { X } from "./x";\n`;
    expect(specifiersIn(dts).sort()).toEqual(["./x", "@pulumi/pulumi"]);
  });

  it("ignores a specifier quoted in a comment", () => {
    const js = `/**\n * import * as linuxnet from "pulumi-linuxnet";\n * require("left-pad")\n */\nexports.x = 1;\n`;
    expect(specifiersIn(js)).toEqual([]);
  });
});

describe("packageOf", () => {
  it.each([
    ["ssh2", "ssh2"],
    ["ipaddr.js", "ipaddr.js"],
    ["@pulumi/pulumi/dynamic", "@pulumi/pulumi"],
    ["pulumi-linuxnet/dist/provider/runtime.js", "pulumi-linuxnet"],
  ])("names the package of %s: %s", (specifier, name) => {
    expect(packageOf(specifier)).toBe(name);
  });
});
