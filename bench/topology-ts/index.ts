// The benchmark topology of ../topology/index.js, in TypeScript (see Pulumi.yaml). Config: n, mode.
import * as pulumi from "@pulumi/pulumi";
import * as linuxnet from "pulumi-linuxnet";

const config = new pulumi.Config();
const n = config.requireNumber("n");
const mode = config.require("mode");

if (mode === "noop") {
  // As many dynamic resources that do nothing as the real topology has (2n + 2).
  const noop: pulumi.dynamic.ResourceProvider = {
    async create(inputs) {
      return { id: inputs.label, outs: inputs };
    },
    async read(id, props) {
      return { id, props };
    },
    async delete() {},
  };
  class Noop extends pulumi.dynamic.Resource {
    constructor(name: string, args: { label: string }) {
      super(noop, name, args, {}, "linuxnet", "Noop");
    }
  }
  for (let i = 0; i < 2 * n + 2; i++) new Noop(`r${i}`, { label: `r${i}` });
} else {
  const bridge = new linuxnet.Bridge("br", { name: "lnbench0", addresses: ["10.77.0.1/16"] });
  for (let i = 0; i < n; i++) {
    const ns = new linuxnet.Namespace(`ns${i}`, { name: `bench${i}` });
    const host = i + 2;
    new linuxnet.VethPair(`veth${i}`, {
      a: {
        name: `bench${i}a`,
        namespace: ns.name,
        addresses: [`10.77.${host >> 8}.${host & 255}/16`],
      },
      b: { name: `bench${i}b`, bridge: bridge.name },
    });
  }
  new linuxnet.NatRule("nat", { source: "10.77.0.0/16", outInterface: "eth0" });
}
