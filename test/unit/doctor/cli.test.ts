import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { main, parseEndpoint } from "../../../provider/cli/linuxnet";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (t: string) => out.push(t), err: (t: string) => err.push(t) } };
}

describe("parseEndpoint", () => {
  it.each([
    ["a namespace", "ns-blue", { namespace: "ns-blue" }],
    [
      "a namespace and an address",
      "ns-blue/10.0.0.1",
      { namespace: "ns-blue", address: "10.0.0.1" },
    ],
    ["an address in the host's namespace", "/10.0.0.254", { address: "10.0.0.254" }],
    ["a bare address", "192.0.2.7", { address: "192.0.2.7" }],
  ] as const)("reads %s", (_label, value, want) => {
    expect(parseEndpoint("to", value)).toEqual(want);
  });

  it.each([
    ["a namespace with a space", "ns blue", /namespace must contain only/],
    ["an IPv6 address", "ns-blue/fd00::1", /not an IPv4 address/],
    ["a CIDR instead of an address", "ns-blue/10.0.0.1/24", /not an IPv4 address/],
  ] as const)("refuses %s", (_label, value, message) => {
    expect(() => parseEndpoint("from", value)).toThrow(message);
  });
});

describe("main", () => {
  it.each([
    ["no command", [], /usage:/],
    ["an unknown command", ["fix-everything"], /unknown command/],
    ["doctor without --to", ["doctor", "--from", "ns-blue"], /doctor needs --to/],
    ["an unknown flag", ["doctor", "--bogus"], /Unknown option/],
    [
      "a key without a host",
      ["doctor", "--to", "ns-green", "--key", "/nonexistent"],
      /--key needs --host/,
    ],
    [
      "an unreadable key file",
      ["doctor", "--host", "10.1.0.2", "--to", "ns-green", "--key", "/nonexistent/key"],
      /cannot read \/nonexistent\/key: ENOENT/,
    ],
    ["a bad TCP port", ["doctor", "--to", "10.0.0.2", "--tcp-port", "70000"], /--tcp-port/],
    ["graph with doctor's flags", ["graph", "--to", "10.0.0.2"], /belongs to doctor/],
    [
      "a bad host name",
      ["graph", "--host", "bad host"],
      /--host: must be an IP address or a DNS name/,
    ],
  ] as const)("exits 2 on %s", async (_label, args, message) => {
    const c = capture();
    expect(await main([...args], c.io)).toBe(2);
    expect(c.err.join("\n")).toMatch(message);
  });

  it("prints help on --help and exits 0", async () => {
    const c = capture();
    expect(await main(["--help"], c.io)).toBe(0);
    expect(c.out.join("")).toMatch(/linuxnet doctor/);
  });

  it("draws a stack export as Mermaid without touching a host", async () => {
    const c = capture();
    const file = path.join(__dirname, "fixtures", "lab-stack-export.json");
    expect(await main(["graph", "--stack-export", file], c.io)).toBe(0);
    expect(c.out.join("")).toMatch(/^flowchart LR/);
    expect(c.out.join("")).toContain("veth-green<br/>10.0.0.2/24");
  });
});
