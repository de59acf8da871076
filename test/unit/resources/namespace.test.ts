import { describe, expect, it } from "vitest";
import { planNamespaceRecordWrite } from "../../../provider/resources/owner";
import {
  type NamespaceInputs,
  namespaceKind,
  planNamespaceCreate,
  planNamespaceDelete,
} from "../../../provider/resources/namespace";
import { CONNECTION, PROVIDER_KEY, UNKNOWN, labelled, inputsFor } from "../support";

const inputs = inputsFor<NamespaceInputs>("blue", {
  name: "ns-blue",
});

describe("namespaceKind.check", () => {
  it("brings loopback up unless told otherwise", () => {
    const { inputs: out, failures } = namespaceKind.check(undefined, inputs());
    expect(failures).toEqual([]);
    expect(out).toMatchObject({ name: "ns-blue", autoNamed: false, loopbackUp: true });
  });

  it("keeps loopbackUp false when it is given", () => {
    expect(namespaceKind.check(undefined, inputs({ loopbackUp: false })).inputs.loopbackUp).toBe(
      false,
    );
  });

  it("names an unnamed namespace after its resource, with a random suffix", () => {
    const { inputs: out, failures } = namespaceKind.check(undefined, inputs({ name: undefined }));
    expect(failures).toEqual([]);
    expect(out.autoNamed).toBe(true);
    expect(out.name).toMatch(/^blue-[0-9a-f]{5}$/);
  });

  it("cuts a long resource name so the generated name stays within 32 bytes", () => {
    const { inputs: out } = namespaceKind.check(
      undefined,
      inputs({ name: undefined, resourceName: "x".repeat(80) }),
    );
    expect(Buffer.byteLength(out.name)).toBeLessThanOrEqual(32);
    expect(out.name).toMatch(/^x+-[0-9a-f]{5}$/);
  });

  it("keeps the name it generated before, so an update does not rename", () => {
    const olds = { ...inputs(), name: "blue-abcde", autoNamed: true };
    const { inputs: out } = namespaceKind.check(olds, inputs({ name: undefined }));
    expect(out).toMatchObject({ name: "blue-abcde", autoNamed: true });
  });

  it("does not keep an old name the user chose once the name is left out", () => {
    const olds = { ...inputs(), name: "ns-blue", autoNamed: false };
    const { inputs: out } = namespaceKind.check(olds, inputs({ name: undefined }));
    expect(out.name).not.toBe("ns-blue");
    expect(out.autoNamed).toBe(true);
  });

  it.each(
    labelled([
      { label: "the name", over: { name: UNKNOWN } },
      { label: "loopbackUp", over: { loopbackUp: UNKNOWN } },
      { label: "the whole connection", over: { connection: UNKNOWN } },
      { label: "the connection's host", over: { connection: { ...CONNECTION, host: UNKNOWN } } },
      {
        label: "the connection's key",
        over: { connection: { ...CONNECTION, privateKey: UNKNOWN } },
      },
    ]),
  )("lets an unknown value through in %s", (_label, { over }) => {
    expect(
      namespaceKind.check(undefined, inputs(over as Partial<NamespaceInputs>)).failures,
    ).toEqual([]);
  });

  it("refuses a missing connection", () => {
    expect(namespaceKind.check(undefined, inputs({ connection: undefined })).failures).toEqual([
      { property: "connection", reason: expect.stringMatching(/required/) },
    ]);
  });
});

describe("namespaceKind.diff", () => {
  const olds = { ...inputs(), autoNamed: false, loopbackUp: true };

  it.each(
    labelled([
      {
        label: "nothing when the inputs are the same",
        news: inputs({ loopbackUp: true }),
        diff: { changes: false, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "nothing when only the serialized provider differs",
        news: inputs({ loopbackUp: true, [PROVIDER_KEY]: "exports.handler = v2" }),
        diff: { changes: false, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "nothing when only the resource name differs",
        news: inputs({ loopbackUp: true, resourceName: "renamed" }),
        diff: { changes: false, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "an update for loopbackUp",
        news: inputs({ loopbackUp: false }),
        diff: { changes: true, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "a replacement, new name first, for a new name",
        news: inputs({ loopbackUp: true, name: "ns-red" }),
        diff: { changes: true, replaces: ["name"], deleteBeforeReplace: false },
      },
      {
        label: "a replacement, delete first, for a name not known yet",
        news: inputs({ loopbackUp: true, name: UNKNOWN }),
        diff: { changes: true, replaces: ["name"], deleteBeforeReplace: true },
      },
      {
        label: "an update, not a replacement, for a rotated key",
        news: inputs({ loopbackUp: true, connection: { ...CONNECTION, privateKey: "k2" } }),
        diff: { changes: true, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "an update for another user on the same host",
        news: inputs({
          loopbackUp: true,
          connection: { ...CONNECTION, user: "deploy", sudo: true },
        }),
        diff: { changes: true, replaces: [], deleteBeforeReplace: false },
      },
      {
        label: "a replacement, delete first, for another host",
        news: inputs({ loopbackUp: true, connection: { ...CONNECTION, host: "10.1.0.3" } }),
        diff: { changes: true, replaces: ["connection"], deleteBeforeReplace: true },
      },
    ]),
  )("gives %s", (_label, { news, diff }) => {
    expect(namespaceKind.diff(olds, news)).toEqual(diff);
  });
});

describe("planNamespaceCreate", () => {
  const record = planNamespaceRecordWrite("ns-blue", "linuxnet:p/s/Namespace/blue");

  it("makes /run/netns first, adds the namespace, writes its record of ownership and brings lo up", () => {
    expect(planNamespaceCreate(inputs(), "linuxnet:p/s/Namespace/blue")).toEqual([
      ["mkdir", "-p", "/run/netns"],
      ["ip", "netns", "add", "ns-blue"],
      record,
      ["ip", "-n", "ns-blue", "link", "set", "lo", "up"],
    ]);
  });

  it("leaves lo alone when loopbackUp is false", () => {
    expect(
      planNamespaceCreate(inputs({ loopbackUp: false }), "linuxnet:p/s/Namespace/blue"),
    ).toEqual([["mkdir", "-p", "/run/netns"], ["ip", "netns", "add", "ns-blue"], record]);
  });
});

describe("planNamespaceDelete", () => {
  it("deletes the namespace by name", () => {
    expect(planNamespaceDelete("ns-blue")).toEqual(["ip", "netns", "delete", "ns-blue"]);
  });
});
