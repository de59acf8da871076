import { describe, expect, it } from "vitest";
import * as linuxnet from "../../../provider/index";
import {
  KIND_NAMES,
  SNAPSHOT_READ_KINDS,
  kindNameOfType,
  kindNamed,
  kinds,
  typeToken,
} from "../../../provider/resources/registry";
import { labelled } from "../support";

describe("the registry of kinds", () => {
  it.each(labelled(KIND_NAMES.map((name) => ({ label: name, name }))))(
    "has the public index export %s's resource class under the kind's name",
    (_label, { name }) => {
      expect(typeof (linuxnet as Record<string, unknown>)[name]).toBe("function");
      expect(kinds[name].declaration.name).toBe(name);
    },
  );

  it("finds a kind by name, and nothing for a name it does not have or an Object method", () => {
    expect(kindNamed("Bridge")).toBe(kinds.Bridge);
    expect(kindNamed("Tunnel")).toBeUndefined();
    expect(kindNamed("toString")).toBeUndefined();
  });

  it.each(
    labelled([
      {
        label: "a kind of ours",
        type: "pulumi-nodejs:dynamic/linuxnet:VethPair",
        name: "VethPair",
      },
      {
        label: "a kind this version lacks",
        type: "pulumi-nodejs:dynamic/linuxnet:Tunnel",
        name: undefined,
      },
      { label: "another package's type", type: "aws:ec2/instance:Instance", name: undefined },
    ]),
  )("reads the kind of %s from its type token", (_label, { type, name }) => {
    expect(kindNameOfType(type)).toBe(name);
  });

  it("writes the type token the program registers", () => {
    expect(typeToken("Route")).toBe("pulumi-nodejs:dynamic/linuxnet:Route");
  });

  it("reads every kind from a host snapshot but the check, which probes the host live, and Sysctl, whose settings the snapshot does not hold", () => {
    // A Vxlan reads its link from the snapshot and its forwarding entries live.
    expect([...SNAPSHOT_READ_KINDS]).toEqual([
      "Namespace",
      "Bridge",
      "VethPair",
      "Route",
      "NatRule",
      "PortForward",
      "Vxlan",
    ]);
  });
});
