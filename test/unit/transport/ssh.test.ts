import { describe, expect, it } from "vitest";
import { cutFramed, frameCommand } from "../../../provider/transport/ssh";
import { labelled } from "../support";

const MARKER = "__LINUXNET_0011223344556677__";
/** The line that prints the begin marker on both streams before the command. */
const HEADER = `printf '%s\\n' ${MARKER}BEGIN; printf '%s\\n' ${MARKER}BEGIN >&2\n`;
/** The two lines that print the exit code on stdout and a bare marker on stderr. */
const TRAILER = `printf '\\n%s %d\\n' ${MARKER} $?; printf '\\n%s\\n' ${MARKER} >&2\n`;

describe("frameCommand", () => {
  it("closes stdin and prints the exit code after the command when there is no input", () => {
    expect(frameCommand("ip -json link show", MARKER)).toBe(
      `${HEADER}ip -json link show </dev/null\n${TRAILER}`,
    );
  });

  it("prints the marker on stdout with the exit code and on stderr alone", () => {
    const lines = frameCommand("true", MARKER).split("\n");
    expect(lines[2]).toContain(`${MARKER} $?`);
    expect(lines[2]).toMatch(/>&2$/);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toBe("");
  });

  it("feeds stdin through a quoted here-document, so nothing in it is expanded", () => {
    expect(frameCommand("ip -batch -", MARKER, "link add a type dummy\nlink set a up\n")).toBe(
      `${HEADER}ip -batch - <<'EOF_${MARKER}'\nlink add a type dummy\nlink set a up\nEOF_${MARKER}\n${TRAILER}`,
    );
  });

  it("ends stdin with a newline before the delimiter when it lacks one", () => {
    expect(frameCommand("cat", MARKER, "$(reboot) `id` $HOME")).toBe(
      `${HEADER}cat <<'EOF_${MARKER}'\n$(reboot) \`id\` $HOME\nEOF_${MARKER}\n${TRAILER}`,
    );
  });

  it("feeds an empty stdin as an empty here-document, not as one blank line", () => {
    expect(frameCommand("cat", MARKER, "")).toBe(
      `${HEADER}cat <<'EOF_${MARKER}'\nEOF_${MARKER}\n${TRAILER}`,
    );
  });

  it.each(
    labelled([
      { label: "on a line of its own", stdin: `a\nEOF_${MARKER}\nb\n` },
      { label: "at the very start", stdin: `EOF_${MARKER}` },
      { label: "inside a line", stdin: `x EOF_${MARKER} y` },
    ]),
  )("refuses stdin that holds the delimiter %s", (_label, { stdin }) => {
    expect(() => frameCommand("cat", MARKER, stdin)).toThrow(/here-document delimiter/);
  });

  it("keeps a stdin that merely mentions EOF", () => {
    expect(frameCommand("cat", MARKER, "EOF\n")).toContain("\nEOF\nEOF_");
  });
});

/** What `sh` prints on (stdout, stderr) for one framed command with these outputs. */
function printed(out: string, err: string, exitCode: number): [string, string] {
  return [`${MARKER}BEGIN\n${out}\n${MARKER} ${exitCode}\n`, `${MARKER}BEGIN\n${err}\n${MARKER}\n`];
}

describe("cutFramed", () => {
  const cut = (stdout: string, stderr: string) =>
    cutFramed(Buffer.from(stdout), Buffer.from(stderr), MARKER);

  it("returns the command's output, error output and exit code", () => {
    const [out, err] = printed('[{"ifname":"lo"}]', "warning", 3);
    expect(cut(out, err)?.result).toEqual({
      stdout: '[{"ifname":"lo"}]',
      stderr: "warning",
      exitCode: 3,
    });
  });

  it("drops what a login shell printed before the first command, on both streams", () => {
    const [out, err] = printed("[]", "", 0);
    const framed = cut(`Welcome back, root!\nLast login: never\n${out}`, `motd: hi\n${err}`);
    expect(framed?.result).toEqual({ stdout: "[]", stderr: "", exitCode: 0 });
  });

  it("drops a greeting that does not end its line", () => {
    const [out, err] = printed("ok", "", 0);
    expect(cut(`Welcome${out}`, `no newline${err}`)?.result.stdout).toBe("ok");
  });

  it("waits while either stream lacks its begin or end marker", () => {
    const [out, err] = printed("x", "y", 0);
    expect(cut(out, "")).toBeUndefined();
    expect(cut("", err)).toBeUndefined();
    expect(cut(out.slice(0, -1), err)).toBeUndefined();
    expect(cut(out, err.slice(0, -1))).toBeUndefined();
    expect(cut(`Welcome\n${MARKER}BEG`, err)).toBeUndefined();
  });

  it("leaves the next command's output for the next cut", () => {
    const [out1, err1] = printed("first", "", 0);
    const [out2, err2] = printed("second", "e2", 1);
    const first = cutFramed(Buffer.from(out1 + out2), Buffer.from(err1 + err2), MARKER)!;
    expect(first.result.stdout).toBe("first");
    const second = cutFramed(first.stdoutRest, first.stderrRest, MARKER)!;
    expect(second.result).toEqual({ stdout: "second", stderr: "e2", exitCode: 1 });
    expect(second.stdoutRest.length + second.stderrRest.length).toBe(0);
  });

  it("keeps output that itself looks like a begin marker of another shell", () => {
    const [out, err] = printed("__LINUXNET_ffffffffffffffff__BEGIN", "", 0);
    expect(cut(out, err)?.result.stdout).toBe("__LINUXNET_ffffffffffffffff__BEGIN");
  });
});
