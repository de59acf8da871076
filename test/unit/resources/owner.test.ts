import { describe, expect, it } from "vitest";
import {
  adoptedMarkOf,
  isAdoptedMark,
  markFor,
  markOf,
  namespaceMarkOf,
  ownerOf,
  ownerOfUrn,
  ownershipOf,
  planNamespaceRecordWrite,
  planRecordRemove,
  resourceMarkOf,
  routeRecord,
} from "../../../provider/resources/owner";
import { namespaceKind, type NamespaceInputs } from "../../../provider/resources/namespace";
import { type CommandResult, hostFromRun } from "../../../provider/transport";
import { CONNECTION, labelled } from "../support";

describe("marks of ownership", () => {
  it("name the project, the stack, the kind and the resource", () => {
    expect(markOf(ownerOf("lab", "dev", "Bridge", "br0"))).toBe("linuxnet:lab/dev/Bridge/br0");
  });

  it("tell two stacks with the same resource name apart", () => {
    expect(markOf(ownerOf("lab", "dev", "Namespace", "blue"))).not.toBe(
      markOf(ownerOf("lab", "prod", "Namespace", "blue")),
    );
  });

  it.each(
    labelled([
      { label: "a name with a space", name: "my bridge" },
      { label: "a name with a quote", name: 'br"0' },
      { label: "a name with a newline", name: "br\n0" },
      { label: "a name of 300 bytes", name: "x".repeat(300) },
    ]),
  )("hash %s, keeping the project, stack and kind readable", (_label, { name }) => {
    const mark = markOf(ownerOf("lab", "dev", "Bridge", name));
    expect(mark).toMatch(/^linuxnet:lab\/dev\/Bridge\/#[0-9a-f]{20}$/);
    expect(mark).not.toBe(markOf(ownerOf("lab", "dev", "Bridge", `${name}.`)));
  });

  it("are the same from a stack export's URN as from the program", () => {
    const urn = "urn:pulumi:dev::lab::pulumi-nodejs:dynamic/linuxnet:Bridge::br0";
    expect(ownerOfUrn(urn, "Bridge")).toBe(ownerOf("lab", "dev", "Bridge", "br0"));
    const child = "urn:pulumi:dev::lab::my:Component$pulumi-nodejs:dynamic/linuxnet:Route::a::b";
    expect(ownerOfUrn(child, "Route")).toBe(ownerOf("lab", "dev", "Route", "a::b"));
  });

  it("fall back to the kind and resource name for inputs without an owner", () => {
    expect(markFor({ resourceName: "blue" }, "Namespace")).toBe("linuxnet:-/-/Namespace/blue");
    expect(markFor({ owner: "p/s/Namespace/blue" }, "Namespace")).toBe(
      "linuxnet:p/s/Namespace/blue",
    );
  });

  it.each(
    labelled([
      { label: "the same mark", found: "linuxnet:p/s/Bridge/a", want: "ours" },
      { label: "another resource's mark", found: "linuxnet:p/s/Bridge/b", want: "other" },
      { label: "another stack's mark", found: "linuxnet:p/t/Bridge/a", want: "other" },
      { label: "an alias not of ours", found: "uplink to rack 4", want: "unmarked" },
      { label: "no alias", found: undefined, want: "unmarked" },
    ]),
  )("read %s", (_label, { found, want }) => {
    expect(ownershipOf(found, "linuxnet:p/s/Bridge/a")).toBe(want);
  });

  it("of an adopted object end with ;adopted, and still read as the same owner's", () => {
    const mine = "linuxnet:p/s/Bridge/a";
    expect(adoptedMarkOf(mine)).toBe("linuxnet:p/s/Bridge/a;adopted");
    expect(isAdoptedMark(adoptedMarkOf(mine))).toBe(true);
    expect(isAdoptedMark(mine)).toBe(false);
    expect(isAdoptedMark("uplink;adopted")).toBe(false);
    expect(resourceMarkOf(adoptedMarkOf(mine))).toBe(mine);
    expect(resourceMarkOf(mine)).toBe(mine);
    expect(ownershipOf(adoptedMarkOf(mine), mine)).toBe("ours");
    expect(ownershipOf(adoptedMarkOf("linuxnet:p/s/Bridge/b"), mine)).toBe("other");
    // No owner holds ';' as it is: the suffix cannot be part of a resource's name.
    expect(markOf(ownerOf("p", "s", "Bridge", "a;adopted"))).toMatch(/\/#[0-9a-f]{20}$/);
  });

  it("keep route records one file per namespace, table, destination and metric", () => {
    expect(routeRecord(undefined, "main", "10.1.0.0/16", 0)).toBe(
      "/run/linuxnet/route/@host/main_10.1.0.0:16_0",
    );
    expect(routeRecord("ns1", "100", "default", 5)).toBe("/run/linuxnet/route/ns1/100_default_5");
  });

  it("of a namespace hold its identity, and mark only the namespace it names", () => {
    const id = "nsfs 4026534991 1796309313";
    expect(namespaceMarkOf(`linuxnet:p/s/Namespace/a\n${id}\n`, 0, `${id}\n`)).toBe(
      "linuxnet:p/s/Namespace/a",
    );
    expect(
      namespaceMarkOf(`linuxnet:p/s/Namespace/a\n${id}\n`, 0, "nsfs 4026534991 1796309999"),
    ).toBe(undefined);
    expect(namespaceMarkOf(`linuxnet:p/s/Namespace/a\n${id}\n`, 0, undefined)).toBe(undefined);
    // A record written before identities were: taken at its word.
    expect(namespaceMarkOf("linuxnet:p/s/Namespace/a\n", 0, `${id}\n`)).toBe(
      "linuxnet:p/s/Namespace/a",
    );
    expect(planNamespaceRecordWrite("ns1", "linuxnet:p/s/Namespace/a").slice(3)).toEqual([
      "sh",
      "/run/linuxnet/netns",
      "/run/linuxnet/netns/ns1",
      "linuxnet:p/s/Namespace/a",
      "ns1",
      "nsfs %i %Z",
    ]);
  });

  it("remove a record with the directories it leaves empty, up to /run/linuxnet", () => {
    expect(planRecordRemove("/run/linuxnet/netns/ns1").slice(4)).toEqual([
      "/run/linuxnet/netns/ns1",
      "/run/linuxnet/netns",
      "/run/linuxnet",
    ]);
  });
});

describe("a create that finds its name taken", () => {
  const ok = (stdout = ""): CommandResult => ({ stdout, stderr: "", exitCode: 0 });
  const mine = "linuxnet:p/s/Namespace/blue";
  const IDENTITY = "nsfs 4026534991 1796309313";

  /** A host where namespace ns-blue exists, with `record` as its record (or none). */
  function hostWith(record: string | undefined) {
    const ran: string[] = [];
    const host = hostFromRun("h1", async (argv) => {
      const line = argv.join(" ");
      ran.push(line);
      if (line === "ip netns add ns-blue") {
        return {
          stdout: "",
          stderr: 'Cannot create namespace file "/run/netns/ns-blue": File exists',
          exitCode: 1,
        };
      }
      if (line === "stat -Lc nsfs %i %Z /run/netns/ns-blue") return ok(`${IDENTITY}\n`);
      if (line.startsWith("cat /run/linuxnet/netns/")) {
        return record === undefined
          ? { stdout: "", stderr: "No such file or directory", exitCode: 1 }
          : ok(`${record}\n`);
      }
      if (line === "ip -json netns list") return ok(JSON.stringify([{ name: "ns-blue" }]));
      if (line.includes("-json link show dev lo")) {
        return ok(
          JSON.stringify([{ ifname: "lo", flags: ["LOOPBACK"], mtu: 65536, operstate: "DOWN" }]),
        );
      }
      return ok();
    });
    return { host, ran };
  }
  const inputs = (more: Partial<NamespaceInputs> = {}): NamespaceInputs => ({
    connection: CONNECTION,
    resourceName: "blue",
    owner: "p/s/Namespace/blue",
    name: "ns-blue",
    loopbackUp: true,
    ...more,
  });

  it("takes over an object with its own mark and converges it (an interrupted create)", async () => {
    const { host, ran } = hostWith(mine);
    const outs = await namespaceKind.create(host, inputs(), "ns-blue");
    expect(outs.name).toBe("ns-blue");
    expect(ran).toContain("ip -n ns-blue link set lo up");
    // Its mark is not rewritten: it is ours already.
    expect(ran.filter((l) => l.startsWith("sh -c"))).toEqual([]);
  });

  it("takes over its own namespace whose record names it (its nsfs inode and time)", async () => {
    const { host, ran } = hostWith(`${mine}\n${IDENTITY}`);
    await namespaceKind.create(host, inputs(), "ns-blue");
    expect(ran).toContain("ip -n ns-blue link set lo up");
  });

  it("reads a namespace deleted by hand and made again under the name as unmarked: its record names another", async () => {
    const { host, ran } = hostWith(`${mine}\nnsfs 4026534730 1796309001`);
    await expect(namespaceKind.create(host, inputs(), "ns-blue")).rejects.toThrow(
      /namespace "ns-blue" already exists and is not managed by this stack; set adopt: true/,
    );
    expect(ran).not.toContain("ip -n ns-blue link set lo up");
  });

  it("refuses an object with another resource's mark, even with adopt, and names it", async () => {
    const { host, ran } = hostWith("linuxnet:p/other/Namespace/blue");
    await expect(namespaceKind.create(host, inputs({ adopt: true }), "ns-blue")).rejects.toThrow(
      /namespace "ns-blue" already exists and is marked as another resource's \(linuxnet:p\/other\/Namespace\/blue\)/,
    );
    expect(ran.some((l) => l.includes("link set lo"))).toBe(false);
  });

  it("refuses an unmarked object without adopt, and says that adopt: true exists", async () => {
    const { host } = hostWith(undefined);
    await expect(namespaceKind.create(host, inputs(), "ns-blue")).rejects.toThrow(
      /running "ip netns add ns-blue" on h1: exit 1: .*File exists: namespace "ns-blue" already exists and is not managed by this stack; set adopt: true/,
    );
  });

  it("adopts an unmarked object with adopt: true: converges it, then marks it as adopted", async () => {
    const { host, ran } = hostWith(undefined);
    await namespaceKind.create(host, inputs({ adopt: true }), "ns-blue");
    const marked = ran.findIndex((l) => l.startsWith("sh -c") && l.includes(`${mine};adopted`));
    expect(marked).toBeGreaterThan(0);
    expect(ran.indexOf("ip -n ns-blue link set lo up")).toBeLessThan(marked);
  });

  it("leaves an object it fails to converge unmarked, as it found it", async () => {
    const { host: base, ran } = hostWith(undefined);
    const host = hostFromRun("h1", async (argv, options) => {
      if (argv.join(" ") === "ip -n ns-blue link set lo up") {
        ran.push(argv.join(" "));
        return { stdout: "", stderr: "RTNETLINK answers: Operation not permitted", exitCode: 2 };
      }
      return base.run(argv, options);
    });
    await expect(namespaceKind.create(host, inputs({ adopt: true }), "ns-blue")).rejects.toThrow(
      /Operation not permitted/,
    );
    expect(ran).toContain("ip -n ns-blue link set lo up");
    expect(ran.filter((l) => l.startsWith("sh -c"))).toEqual([]);
  });

  it("takes over its own adopted object again without adopt, keeping the adopted mark", async () => {
    const { host, ran } = hostWith(`${mine};adopted`);
    await namespaceKind.create(host, inputs(), "ns-blue");
    expect(ran).toContain("ip -n ns-blue link set lo up");
    expect(ran.filter((l) => l.startsWith("sh -c"))).toEqual([]);
  });
});
