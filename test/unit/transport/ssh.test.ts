import { describe, expect, it } from "vitest";
import { frameCommand } from "../../../provider/transport/ssh";
import { labelled } from "../support";

const MARKER = "__LINUXNET_0011223344556677__";
/** The two lines that print the exit code on stdout and a bare marker on stderr. */
const TRAILER = `printf '\\n%s %d\\n' ${MARKER} $?; printf '\\n%s\\n' ${MARKER} >&2\n`;

describe("frameCommand", () => {
  it("closes stdin and prints the exit code after the command when there is no input", () => {
    expect(frameCommand("ip -json link show", MARKER)).toBe(
      `ip -json link show </dev/null\n${TRAILER}`,
    );
  });

  it("prints the marker on stdout with the exit code and on stderr alone", () => {
    const lines = frameCommand("true", MARKER).split("\n");
    expect(lines[1]).toContain(`${MARKER} $?`);
    expect(lines[1]).toMatch(/>&2$/);
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
  });

  it("feeds stdin through a quoted here-document, so nothing in it is expanded", () => {
    expect(frameCommand("ip -batch -", MARKER, "link add a type dummy\nlink set a up\n")).toBe(
      `ip -batch - <<'EOF_${MARKER}'\nlink add a type dummy\nlink set a up\nEOF_${MARKER}\n${TRAILER}`,
    );
  });

  it("ends stdin with a newline before the delimiter when it lacks one", () => {
    expect(frameCommand("cat", MARKER, "$(reboot) `id` $HOME")).toBe(
      `cat <<'EOF_${MARKER}'\n$(reboot) \`id\` $HOME\nEOF_${MARKER}\n${TRAILER}`,
    );
  });

  it("feeds an empty stdin as an empty here-document, not as one blank line", () => {
    expect(frameCommand("cat", MARKER, "")).toBe(
      `cat <<'EOF_${MARKER}'\nEOF_${MARKER}\n${TRAILER}`,
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
