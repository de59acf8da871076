import { describe, expect, it } from "vitest";
import { quoteArg, quoteArgv } from "../../../provider/shell/quote";
import { labelled } from "../support";

/** What a POSIX shell may see unquoted in a word without reading anything special into it. */
const PLAIN = /[A-Za-z0-9_@%+=:,./-]/;

/**
 * Reads a command line the way `sh` splits it into words, for the only forms
 * quoteArgv writes: plain characters, '...' and \x. Any other character outside
 * quotes (a metacharacter, an expansion, a glob, a comment, a line break) is
 * an error, so a passing round trip proves the line runs nothing but argv.
 * Running a real shell is out of bounds for the unit tier.
 */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (ch === " ") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (ch === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated single quote at ${i}`);
      word = (word ?? "") + line.slice(i + 1, end);
      i = end;
    } else if (ch === "\\") {
      if (i + 1 >= line.length || line[i + 1] === "\n")
        throw new Error(`dangling backslash at ${i}`);
      word = (word ?? "") + line[i + 1];
      i++;
    } else if (PLAIN.test(ch)) {
      word = (word ?? "") + ch;
    } else {
      throw new Error(`unquoted ${JSON.stringify(ch)} at ${i} in ${JSON.stringify(line)}`);
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

describe("shellWords (the test's own reader)", () => {
  it.each(
    labelled([
      { label: "a semicolon", line: "a;b" },
      { label: "a command substitution", line: "$(reboot)" },
      { label: "an unterminated quote", line: "'abc" },
      { label: "a glob", line: "*" },
      { label: "a newline", line: "a\nb" },
    ]),
  )("refuses %s outside quotes", (_label, { line }) => {
    expect(() => shellWords(line)).toThrow();
  });
});

describe("quoteArg", () => {
  it.each(
    labelled([
      { label: "a plain word", arg: "eth0", quoted: "eth0" },
      { label: "an address with a prefix", arg: "10.0.0.1/24", quoted: "10.0.0.1/24" },
      { label: "an option", arg: "-w", quoted: "-w" },
      { label: "a key=value word", arg: "net.ipv4.ip_forward=1", quoted: "net.ipv4.ip_forward=1" },
      {
        label: "a comment tag",
        arg: "linuxnet:nat-1a2b3c4d:fwd0",
        quoted: "linuxnet:nat-1a2b3c4d:fwd0",
      },
      { label: "an IPv6 address", arg: "fd00::1/64", quoted: "fd00::1/64" },
      { label: "the empty string", arg: "", quoted: "''" },
      { label: "a space", arg: "a b", quoted: "'a b'" },
      { label: "a semicolon", arg: "a;reboot", quoted: "'a;reboot'" },
      { label: "a command substitution", arg: "$(reboot)", quoted: "'$(reboot)'" },
      { label: "backticks", arg: "`reboot`", quoted: "'`reboot`'" },
      { label: "a pipe", arg: "a|b", quoted: "'a|b'" },
      { label: "a logical and", arg: "a&&reboot", quoted: "'a&&reboot'" },
      { label: "a redirection", arg: ">/etc/passwd", quoted: "'>/etc/passwd'" },
      { label: "a single quote", arg: "it's", quoted: "'it'\\''s'" },
      { label: "only a single quote", arg: "'", quoted: "''\\'''" },
      { label: "two single quotes", arg: "''", quoted: "''\\'''\\'''" },
      { label: "a double quote", arg: 'say "hi"', quoted: `'say "hi"'` },
      { label: "a backslash", arg: "a\\b", quoted: "'a\\b'" },
      { label: "a newline", arg: "a\nreboot", quoted: "'a\nreboot'" },
      { label: "a tab", arg: "a\tb", quoted: "'a\tb'" },
      { label: "a variable", arg: "$HOME", quoted: "'$HOME'" },
      { label: "a glob", arg: "*", quoted: "'*'" },
      { label: "a tilde", arg: "~root", quoted: "'~root'" },
      { label: "a comment sign", arg: "#x", quoted: "'#x'" },
      { label: "braces", arg: "{a,b}", quoted: "'{a,b}'" },
      { label: "an exclamation mark", arg: "!!", quoted: "'!!'" },
      { label: "a Cyrillic letter", arg: "v\u0435th0", quoted: "'v\u0435th0'" },
      { label: "an emoji", arg: "\u{1F600}", quoted: "'\u{1F600}'" },
    ]),
  )("quotes %s exactly", (_label, { arg, quoted }) => {
    expect(quoteArg(arg)).toBe(quoted);
  });

  it.each(
    labelled([
      { label: "alone", arg: "\0" },
      { label: "inside a word", arg: "eth0\0; reboot" },
      { label: "at the end", arg: "eth0\0" },
    ]),
  )("refuses a NUL byte %s", (_label, { arg }) => {
    expect(() => quoteArg(arg)).toThrow(/NUL/);
  });
});

describe("quoteArgv", () => {
  const nasty = [
    "",
    " ",
    "plain",
    "a b  c",
    "a;reboot",
    "$(reboot)",
    "`reboot`",
    "a|b",
    "a && b",
    "> /tmp/x",
    "<(x)",
    "it's",
    "'''",
    "'\\''",
    '"$(reboot)"',
    "\\",
    "\\'",
    "a\nb",
    "\n",
    "\t",
    "-rf",
    "--comment",
    "*?[]",
    "~",
    "#",
    "${IFS}",
    "\u{1F600} v\u0435th0",
  ];

  it.each(labelled(nasty.map((arg) => ({ label: JSON.stringify(arg), arg }))))(
    "round-trips %s through a shell's word splitting",
    (_label, { arg }) => {
      const argv = ["printf", "%s\\n", arg, "end"];
      expect(shellWords(quoteArgv(argv))).toEqual(argv);
    },
  );

  it("round-trips the whole table as one command line", () => {
    expect(shellWords(quoteArgv(nasty))).toEqual(nasty);
  });

  it("joins words with single spaces", () => {
    expect(quoteArgv(["ip", "link", "add", "br 0", "type", "bridge"])).toBe(
      "ip link add 'br 0' type bridge",
    );
  });

  it("gives the empty line for an empty argv", () => {
    expect(quoteArgv([])).toBe("");
  });

  it("refuses an argv with a NUL byte in any argument", () => {
    expect(() => quoteArgv(["ip", "link", "del", "a\0b"])).toThrow(/NUL/);
  });
});
