import { describe, expect, it } from "vitest";
import { factsFromSnapshot } from "../../../provider/doctor/facts";
import {
  EXTRA_SECTION_COMMANDS,
  SECTION_COMMANDS,
  parseHostSnapshot,
  snapshotArgv,
} from "../../../provider/host/snapshot";
import { recordedSnapshot } from "./replay";

const M = "linuxnet-snapshot-0123456789abcdef";

/** A dump of the host's own namespace and one other, with the sections given. */
function dump(own: Record<string, [string, number]>, blue: Record<string, [string, number]>) {
  const sections = (s: Record<string, [string, number]>) =>
    Object.entries(s).flatMap(([label, [out, rc]]) => [
      `${M} begin ${label}`,
      out,
      `${M} stderr ${label}`,
      ...(rc === 0 ? [] : [`iptables: cannot read (exit ${rc})`]),
      `${M} end ${label} ${rc}`,
    ]);
  return [
    `${M} snapshot 1`,
    `${M} host`,
    ...sections(own),
    `${M} netns ns-blue`,
    ...sections(blue),
    `${M} done`,
    "",
  ].join("\n");
}

describe("the doctor's snapshot", () => {
  it("adds its sections to the dump only when asked: a refresh's dump is unchanged", () => {
    const plain = snapshotArgv(M);
    const doctor = snapshotArgv(M, ["nsids", "sysctl"]);
    expect(doctor.slice(0, 5)).toEqual(plain.slice(0, 5));
    expect(plain[5]).not.toContain("section nsids");
    expect(plain[5]).not.toContain("sysctls");
    for (const label of Object.keys(SECTION_COMMANDS)) {
      expect(doctor[5]).toContain(`\nsection ${label} `);
    }
    expect(doctor[5]).toContain(`\nsection nsids ${EXTRA_SECTION_COMMANDS.nsids.join(" ")}\n`);
    expect(doctor[5]).toContain("\nsection sysctl sysctls\n");
    expect(snapshotArgv(M, ["nsids"])[5]).not.toContain("sysctls()");
  });
});

describe("factsFromSnapshot", () => {
  const facts = factsFromSnapshot(
    parseHostSnapshot(
      dump(
        {
          link: ["[]", 0],
          addr: ["[]", 0],
          ip_forward: ["1", 0],
          filter: ["-P INPUT ACCEPT\n-P FORWARD DROP\n-P OUTPUT ACCEPT", 0],
          sysctl: [
            "net/ipv4/conf/all/rp_filter 1\nnet/ipv4/conf/eth0.100/rp_filter 2\nnet/bridge/bridge-nf-call-iptables 1",
            0,
          ],
        },
        { link: ["[]", 0], addr: ["[]", 0], ip_forward: ["0", 0], filter: ["", 4] },
      ),
    ),
  );

  it("answers sysctls by their file under /proc/sys, undefined where there is none", () => {
    expect(facts.sysctl(undefined, "net/ipv4/conf/all/rp_filter")).toBe("1");
    expect(facts.sysctl(undefined, "net/ipv4/conf/eth0.100/rp_filter")).toBe("2");
    expect(facts.sysctl(undefined, "net/bridge/bridge-nf-call-iptables")).toBe("1");
    expect(facts.sysctl(undefined, "net/ipv4/conf/br0/rp_filter")).toBeUndefined();
    expect(facts.sysctl("ns-blue", "net/ipv4/conf/all/rp_filter")).toBeUndefined();
  });

  it("reads ip_forward per namespace", () => {
    expect(facts.ipForward(undefined)).toBe(true);
    expect(facts.ipForward("ns-blue")).toBe(false);
    expect(facts.ipForward("ns-gone")).toBe(false);
  });

  it("parses a table, and keeps iptables' words when it could not be read", () => {
    const filter = facts.table(undefined, "filter");
    expect(typeof filter === "string" ? filter : filter.policies.get("FORWARD")).toBe("DROP");
    expect(facts.table("ns-blue", "filter")).toBe("iptables: cannot read (exit 4)");
    expect(facts.table(undefined, "nat")).toMatch(/no output/);
  });

  it("builds the world from the recorded snapshot: every namespace, its links and netnsids", () => {
    const world = factsFromSnapshot(recordedSnapshot("healthy-bridged.json")).world;
    expect(world.namespaces.map((n) => n.name)).toEqual([undefined, "ns-green", "ns-blue"]);
    expect(world.namespaces[2]!.links.map((l) => l.name)).toEqual(["lo", "veth-blue"]);
    expect(world.namespaces[2]!.nsids.size).toBeGreaterThan(0);
  });
});
