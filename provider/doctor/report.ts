/**
 * The doctor's report as text for a terminal: the path hop by hop, one line
 * per check with ✓ / ✗, and the evidence and fix of what broke. Pure.
 */

import { type DoctorCheck, type DoctorReport, type PathHop, nsLabel } from "./types";

const MARK: Record<DoctorCheck["status"], string> = { ok: "✓", fail: "✗", warn: "!", skip: "·" };

/** Options of {@link formatReport}. */
export interface FormatOptions {
  /** Print the evidence of every check, not only of failures and warnings. */
  readonly verbose?: boolean;
}

/** The path as one line: `ns-blue [veth-blue] → host [br0 › eth0] → (leaves the host)`. Pure. */
export function formatPath(path: readonly PathHop[]): string {
  return path
    .map((h) => {
      const ifs = [
        h.in,
        h.bridge && h.bridge !== h.in ? `over ${h.bridge}` : undefined,
        h.out && `out ${h.out}`,
        h.via && `via ${h.via}`,
      ]
        .filter(Boolean)
        .join(", ");
      const note = h.note ? ` (${h.note})` : "";
      return `${nsLabel(h.namespace)}${ifs ? ` [${ifs}]` : ""}${note}`;
    })
    .join(" → ");
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((l) => prefix + l)
    .join("\n");
}

/** The report as text. Pure. */
export function formatReport(report: DoctorReport, options: FormatOptions = {}): string {
  const r = report.request;
  const proto = r.protocol === "tcp" || r.port !== undefined ? `tcp port ${r.port}` : "icmp";
  const src = `${nsLabel(report.source.namespace)}${report.source.address ? ` (${report.source.address})` : ""}`;
  const dst = `${report.destination.address}${report.destination.namespace ? ` in ${report.destination.namespace}` : report.destination.onHost ? "" : " (off this host)"}`;
  const out: string[] = [`linuxnet doctor on ${report.host}: ${src} → ${dst}, ${proto}`];
  if (report.path.length > 0) out.push(`path: ${formatPath(report.path)}`);
  out.push("");
  const width = Math.max(...report.checks.map((c) => c.id.length), 10);
  const skipped = report.checks.filter((c) => c.status === "skip").map((c) => c.id);
  for (const c of report.checks) {
    if (c.status === "skip") continue;
    const where = c.where ? `[${c.where}] ` : "";
    out.push(`  ${MARK[c.status]} ${c.id.padEnd(width)}  ${where}${c.title}`);
    if (c.status === "fail" || c.status === "warn" || (options.verbose && c.status === "ok")) {
      if (c.evidence) out.push(indent(c.evidence, "        "));
      if (c.fix) out.push(`      fix:`, indent(c.fix.replace(/ && /g, " &&\n  "), "        "));
    }
  }
  if (skipped.length > 0)
    out.push(`  ${MARK.skip} not checked, the path being broken above: ${skipped.join(", ")}`);
  out.push("");
  const f = report.firstFailure;
  if (f) {
    out.push(`BROKEN at ${f.id} [${f.where ?? "host"}]: ${f.title} — does not hold.`);
    if (f.fix) out.push(`fix: ${f.fix}`);
  } else {
    const warns = report.checks.filter((c) => c.status === "warn").length;
    out.push(
      `HEALTHY: ${report.checks.filter((c) => c.status === "ok").length} checks passed${warns ? `, ${warns} warning(s)` : ""} (${report.durationMs} ms)`,
    );
  }
  return out.join("\n");
}
