import { describe, expect, it } from "vitest";
import type { QdiscEntry } from "../../../provider/host/reader";
import {
  NETEM_HANDLE,
  type ShapingInputs,
  type ShapingOutputs,
  TBF_HANDLE,
  formatRate,
  formatTime,
  isDefaultQdisc,
  isOurs,
  missingModuleMessage,
  parseRate,
  parseShaping,
  parseTime,
  planShapingAdd,
  planShapingDelete,
  planShapingReplace,
  qdiscKind,
  readProps,
  rootQdisc,
  shapingKind,
  tbfBurst,
} from "../../../provider/resources/shaping";
import { UNKNOWN, labelled, inputsFor } from "../support";

const inputs = inputsFor<ShapingInputs>("wan", { namespace: "ns-blue", device: "veth-blue" });

function checked(over: Record<string, unknown>): ShapingInputs {
  const { inputs: out, failures } = shapingKind.check(undefined, inputs(over));
  expect(failures).toEqual([]);
  return out;
}

// Recorded on the test machines (iproute2 6.1, kernel 6.18): `tc -json qdisc show dev X`.
const RECORDED = {
  vethDefault: '[{"kind":"noqueue","handle":"0:","root":true,"refcnt":2,"options":{}}]',
  vethDown: "[]",
  tbf10mbit:
    '[{"kind":"tbf","handle":"4c54:","root":true,"refcnt":3,"options":{"rate":1250000,"burst":12500,"lat":50000}}]',
  tbf1gbit:
    '[{"kind":"tbf","handle":"4c54:","root":true,"refcnt":3,"options":{"rate":125000000,"burst":1250000,"lat":50000}}]',
  foreignTbf:
    '[{"kind":"tbf","handle":"1:","root":true,"refcnt":3,"options":{"rate":375000,"burst":8191,"lat":50000}}]',
  // Not recorded (this kernel has no sch_netem): the shape iproute2's q_netem.c prints.
  netem:
    '[{"kind":"netem","handle":"4c4e:","root":true,"refcnt":2,"options":{"limit":1000,"delay":{"delay":0.04,"jitter":0.005,"correlation":0},"loss-random":{"loss":0.005,"correlation":0},"duplicate":{"duplicate":0.01,"correlation":0},"reorder":{"reorder":0.25,"correlation":0},"rate":{"rate":1250000,"packetoverhead":0,"cellsize":0,"celloverhead":0},"ecn":false,"gap":1}}]',
};
const parse = (text: string) => JSON.parse(text) as QdiscEntry[];

describe("rates and times", () => {
  it.each([
    ["10mbit", 10_000_000, "10mbit"],
    ["1gbit", 1e9, "1gbit"],
    ["500kbit", 500_000, "500kbit"],
    ["1.5mbit", 1_500_000, "1500kbit"],
    ["1000kbit", 1_000_000, "1mbit"],
    ["125kbps", 1_000_000, "1mbit"],
    ["64kibit", 65_536, "65536bit"],
    ["10MBIT", 10_000_000, "10mbit"],
  ])("reads the rate %s as %d bit/s, stored as %s", (text, bits, stored) => {
    expect(parseRate(text)).toBe(bits);
    expect(formatRate(bits)).toBe(stored);
  });

  it.each([
    ["-10mbit", /must not be negative/],
    ["0kbit", /more than 0/],
    ["10", /with a unit/],
    ["10 parsecs", /with a unit/],
    ["12bit", /whole number of bytes/],
    ["20tbit", /at most 10tbit/],
  ])("refuses the rate %s", (text, why) => {
    expect(parseRate(text)).toMatch(why);
  });

  it.each([
    ["40ms", 40_000, "40ms"],
    ["1s", 1e6, "1s"],
    ["500us", 500, "500us"],
    ["1.5ms", 1500, "1500us"],
    ["2sec", 2e6, "2s"],
    ["0ms", 0, "0ms"],
  ])("reads the time %s as %d us, stored as %s", (text, us, stored) => {
    expect(parseTime(text)).toBe(us);
    expect(formatTime(us)).toBe(stored);
  });

  it.each([["-1ms"], ["40"], ["1h"], ["0.1us"], ["4000s"]])("refuses the time %s", (text) => {
    expect(typeof parseTime(text)).toBe("string");
  });

  it("gives tbf 10 ms of traffic as its burst, and at least 8 KiB", () => {
    expect(tbfBurst(10_000_000)).toBe(12_500);
    expect(tbfBurst(1e9)).toBe(1_250_000);
    expect(tbfBurst(500_000)).toBe(8192);
  });
});

describe("shapingKind.check", () => {
  it("normalises every value", () => {
    expect(
      checked({
        rate: "1000kbit",
        delay: "0.04s",
        jitter: "5000us",
        loss: 0.5,
        duplicate: 1,
        reorder: 25,
      }),
    ).toMatchObject({ rate: "1mbit", delay: "40ms", jitter: "5ms", loss: 0.5, reorder: 25 });
  });

  it.each(
    labelled([
      { label: "a negative rate", over: { rate: "-1mbit" }, field: "rate" },
      { label: "loss over 100%", over: { loss: 100.5 }, field: "loss" },
      { label: "a rate in an unknown unit", over: { rate: "10mb/s" }, field: "rate" },
      { label: "jitter without delay", over: { jitter: "5ms", rate: "1mbit" }, field: "jitter" },
      { label: "reorder without delay", over: { reorder: 5, rate: "1mbit" }, field: "reorder" },
      { label: "no value at all", over: {}, field: "rate" },
    ]),
  )("refuses %s, naming the field", (_label, { over, field }) => {
    const { failures } = shapingKind.check(undefined, inputs(over));
    expect(failures.map((f) => f.property)).toEqual([field]);
  });

  it("lets unknown values through during a preview", () => {
    const { failures, inputs: out } = shapingKind.check(
      undefined,
      inputs({ rate: UNKNOWN, delay: UNKNOWN, jitter: UNKNOWN }),
    );
    expect(failures).toEqual([]);
    expect(out.rate).toBe(UNKNOWN);
  });
});

describe("plans", () => {
  it.each(
    labelled([
      {
        label: "a rate alone as a tbf root",
        over: { rate: "10mbit" },
        kind: "tbf",
        argv: "tc -n ns-blue qdisc add dev veth-blue root handle 4c54: tbf rate 10mbit burst 12500 latency 50ms",
      },
      {
        label: "netem values as a netem root",
        over: { delay: "40ms", jitter: "5ms", loss: 0.5 },
        kind: "netem",
        argv: "tc -n ns-blue qdisc add dev veth-blue root handle 4c4e: netem delay 40ms 5ms loss 0.5%",
      },
      {
        label: "a rate with netem values as netem's own rate",
        over: { rate: "1mbit", delay: "40ms", duplicate: 1, reorder: 25 },
        kind: "netem",
        argv: "tc -n ns-blue qdisc add dev veth-blue root handle 4c4e: netem delay 40ms duplicate 1% reorder 25% rate 1mbit",
      },
    ]),
  )("plans %s", (_label, { over, kind, argv }) => {
    const s = checked(over);
    expect(qdiscKind(s)).toBe(kind);
    expect(planShapingAdd(s).join(" ")).toBe(argv);
    expect(planShapingReplace(s).join(" ")).toBe(argv.replace(" add ", " replace "));
  });

  it("deletes the root qdisc, on the host without -n", () => {
    expect(planShapingDelete({ device: "eth0" })).toEqual([
      "tc",
      "qdisc",
      "del",
      "dev",
      "eth0",
      "root",
    ]);
  });
});

describe("reading tc -json qdisc show", () => {
  it("tells the kernel's default root from ours and someone else's", () => {
    expect(isDefaultQdisc(rootQdisc(parse(RECORDED.vethDefault)))).toBe(true);
    expect(isDefaultQdisc(rootQdisc(parse(RECORDED.vethDown)))).toBe(true);
    expect(isOurs(rootQdisc(parse(RECORDED.tbf10mbit)))).toBe(true);
    expect(isOurs(rootQdisc(parse(RECORDED.netem)))).toBe(true);
    const foreign = rootQdisc(parse(RECORDED.foreignTbf));
    expect([isOurs(foreign), isDefaultQdisc(foreign)]).toEqual([false, false]);
    expect(TBF_HANDLE).not.toBe(NETEM_HANDLE);
  });

  it.each([
    ["tbf10mbit", { rate: "10mbit" }],
    ["tbf1gbit", { rate: "1gbit" }],
    [
      "netem",
      { rate: "10mbit", delay: "40ms", jitter: "5ms", loss: 0.5, duplicate: 1, reorder: 25 },
    ],
  ] as const)("parses the values of %s", (name, values) => {
    expect(parseShaping(rootQdisc(parse(RECORDED[name]))!)).toEqual(values);
  });

  const state = (over: Record<string, unknown>): ShapingOutputs => ({
    ...checked(over),
    qdisc: qdiscKind(checked(over)),
    qdiscBefore: "noqueue",
  });

  it("reads back what was made without drift", () => {
    const s = state({ rate: "10mbit" });
    expect(readProps(s, rootQdisc(parse(RECORDED.tbf10mbit))!)).toEqual(s);
    const n = state({
      rate: "10mbit",
      delay: "40ms",
      jitter: "5ms",
      loss: 0.5,
      duplicate: 1,
      reorder: 25,
    });
    expect(readProps(n, rootQdisc(parse(RECORDED.netem))!)).toEqual(n);
  });

  it("reports a rate changed out of band as drift, which diffs as an update", () => {
    const s = state({ rate: "5mbit" });
    const read = readProps(s, rootQdisc(parse(RECORDED.tbf10mbit))!);
    expect(read.rate).toBe("10mbit");
    const d = shapingKind.diff(read, checked({ rate: "5mbit" }));
    expect(d).toEqual({ changes: true, replaces: [], deleteBeforeReplace: false });
  });

  it("keeps a value as recorded where tc printed it rounded", () => {
    const s = state({ delay: "1234567us" });
    const q: QdiscEntry = {
      kind: "netem",
      handle: NETEM_HANDLE,
      root: true,
      options: { delay: { delay: 1.23457, jitter: 0 } },
    };
    expect(readProps(s, q).delay).toBe("1234567us");
  });
});

describe("shapingKind.diff", () => {
  const old = { ...checked({ rate: "10mbit" }), qdisc: "tbf", qdiscBefore: "noqueue" };
  it.each(
    labelled([
      { label: "a new rate updates in place", over: { rate: "20mbit" }, replaces: [] },
      {
        label: "adding a delay updates in place",
        over: { rate: "10mbit", delay: "5ms" },
        replaces: [],
      },
      {
        label: "another device replaces",
        over: { rate: "10mbit", device: "eth1" },
        replaces: ["device"],
      },
      {
        label: "another namespace replaces",
        over: { rate: "10mbit", namespace: "ns-green" },
        replaces: ["namespace"],
      },
    ]),
  )("%s", (_label, { over, replaces }) => {
    const d = shapingKind.diff(old, checked(over));
    expect(d.changes).toBe(true);
    expect(d.replaces).toEqual(replaces);
    expect(d.deleteBeforeReplace).toBe(replaces.length > 0);
  });

  it("the same rate written another way is no change", () => {
    expect(shapingKind.diff(old, checked({ rate: "10000kbit" })).changes).toBe(false);
  });
});

describe("a kernel without the module", () => {
  it("names the module and the values that need it", () => {
    const m = missingModuleMessage(
      "10.1.0.2",
      checked({ delay: "40ms", loss: 1, rate: "1mbit" }),
      "Error: Specified qdisc kind is unknown.\n",
    );
    expect(m).toBe(
      "on 10.1.0.2: rate, delay, loss on veth-blue need the kernel module sch_netem, which this " +
        "host's kernel does not have (tc: Error: Specified qdisc kind is unknown.); nothing was changed",
    );
  });
});
