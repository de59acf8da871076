import { describe, expect, it } from "vitest";
import { followVxlan, vxlanForwarding } from "../../../../provider/doctor/checks/vxlan";
import { newWalk } from "../../../../provider/doctor/state";
import type { HostFacts } from "../../../../provider/doctor/facts";
import type { Link } from "../../../../provider/doctor/world";
import type { FdbEntry } from "../../../../provider/host/reader";
import { hostFromRun } from "../../../../provider/transport";
import { quoteArgv } from "../../../../provider/shell/quote";
import { labelled } from "../../support";

/**
 * `bridge -json fdb show dev vx-seg` on a lab host after a ping through the
 * segment (iproute2 6.1): the bridge's entry for the port, the MAC learned
 * behind the remote 10.213.7.12, and the two remotes' all-zero entries.
 */
const RECORDED: FdbEntry[] = [
  { mac: "6e:4b:1c:90:2a:11", flags: [], master: "br-vx", state: "permanent" },
  { mac: "5a:e1:0f:33:8c:02", dst: "10.213.7.12", flags: ["self"], state: "" },
  { mac: "00:00:00:00:00:00", dst: "10.213.7.12", flags: ["self"], state: "permanent" },
  { mac: "00:00:00:00:00:00", dst: "10.213.7.13", flags: ["self"], state: "permanent" },
];

describe("vxlanForwarding", () => {
  it.each(
    labelled([
      {
        label: "a learned MAC to its remote",
        mac: "5a:e1:0f:33:8c:02",
        entries: RECORDED,
        want: { kind: "entry", mac: "5a:e1:0f:33:8c:02", remote: "10.213.7.12" },
      },
      {
        label: "a MAC written in capitals to its remote",
        mac: "5A:E1:0F:33:8C:02",
        entries: RECORDED,
        want: { kind: "entry", mac: "5a:e1:0f:33:8c:02", remote: "10.213.7.12" },
      },
      {
        label: "an unknown MAC to every all-zero remote",
        mac: "02:00:00:00:00:99",
        entries: RECORDED,
        want: { kind: "flood", remotes: ["10.213.7.12", "10.213.7.13"] },
      },
      {
        label: "an ARP request (no MAC yet) to every all-zero remote",
        mac: undefined,
        entries: RECORDED,
        want: { kind: "flood", remotes: ["10.213.7.12", "10.213.7.13"] },
      },
      {
        label: "a bridge's own MAC nowhere: its entry has no remote",
        mac: "6e:4b:1c:90:2a:11",
        entries: RECORDED.filter((e) => e.mac !== "00:00:00:00:00:00"),
        want: { kind: "none" },
      },
      {
        label: "anything nowhere once the all-zero entries are gone",
        mac: undefined,
        entries: RECORDED.filter((e) => e.mac !== "00:00:00:00:00:00"),
        want: { kind: "none" },
      },
      {
        label: "a multicast group's entry as where it floods",
        mac: undefined,
        entries: [{ mac: "00:00:00:00:00:00", dst: "239.1.1.1", flags: ["self"] }],
        want: { kind: "flood", remotes: ["239.1.1.1"] },
      },
    ]),
  )("sends %s", (_label, { mac, entries, want }) => {
    expect(vxlanForwarding(entries, mac)).toEqual(want);
  });
});

describe("followVxlan", () => {
  const vxlan = { name: "vx-seg", namespace: undefined, kind: "vxlan", mtu: 1450 } as Link;
  /** A walk whose host answers the neighbour and FDB questions from recorded output. */
  const walk = (neigh: unknown[], fdb: FdbEntry[]) => {
    const answers: Record<string, string> = {
      "ip -n ns-a -json neigh show to 10.77.1.2": JSON.stringify(neigh),
      "bridge -json fdb show dev vx-seg": JSON.stringify(fdb),
    };
    const host = hostFromRun("10.213.7.11", async (argv) => {
      const out = answers[quoteArgv(argv)];
      if (out === undefined) throw new Error(`not recorded: ${quoteArgv(argv)}`);
      return { stdout: out, stderr: "", exitCode: 0 };
    });
    return newWalk(host, { world: { namespaces: [] } } as unknown as HostFacts, {
      from: { namespace: "ns-a" },
      to: { address: "10.77.1.2" },
    });
  };

  it("names the remote a known MAC goes to, and says the path leaves the host there", async () => {
    const w = walk(
      [{ dst: "10.77.1.2", lladdr: "5a:e1:0f:33:8c:02", state: ["REACHABLE"] }],
      RECORDED,
    );
    expect(await followVxlan(w, undefined, vxlan, "10.77.1.2")).toBe(true);
    expect(w.checks).toEqual([
      expect.objectContaining({
        id: "vxlan.fdb",
        status: "ok",
        title:
          "vx-seg (host) sends a frame to 10.77.1.2 (5a:e1:0f:33:8c:02) to the remote 10.213.7.12",
      }),
    ]);
    expect(w.path.at(-1)).toEqual({
      out: "vx-seg",
      note: "leaves the host through VXLAN to 10.213.7.12",
    });
  });

  it("names every remote an ARP request is copied to", async () => {
    const w = walk([], RECORDED);
    expect(await followVxlan(w, undefined, vxlan, "10.77.1.2")).toBe(true);
    expect(w.checks[0]?.title).toBe(
      "vx-seg (host) sends an ARP request for 10.77.1.2 to 10.213.7.12, 10.213.7.13",
    );
  });

  it("fails where no forwarding entry matches, with the listing and the fix", async () => {
    const w = walk([], RECORDED.slice(0, 2));
    expect(await followVxlan(w, undefined, vxlan, "10.77.1.2")).toBe(false);
    const [check] = w.checks;
    expect(check).toMatchObject({ id: "vxlan.fdb", status: "fail" });
    expect(check?.evidence).toContain("$ bridge fdb show dev vx-seg");
    expect(check?.evidence).toContain("5a:e1:0f:33:8c:02 dst 10.213.7.12");
    expect(check?.evidence).toMatch(/no all-zero entry: vx-seg drops the frame/);
    expect(check?.fix).toContain("bridge fdb append 00:00:00:00:00:00 dev vx-seg dst");
    expect(w.failed).toBe(true);
  });
});
