// The benchmark topology (see Pulumi.yaml). Config: n (namespaces), mode.
const path = require("node:path");
const pulumi = require("@pulumi/pulumi");

const config = new pulumi.Config();
const n = config.requireNumber("n");
const mode = config.require("mode");

if (mode === "noop") {
  // As many dynamic resources as the real topology has (2n + 2), doing nothing. The bench reads
  // the provider process's peak memory from /proc; the provider captures nothing that changes
  // from one run to the next, so a second `up` has nothing to change.
  const noop = {
    async create(inputs) {
      return { id: inputs.label, outs: inputs };
    },
    async read(id, props) {
      return { id, props };
    },
    async delete() {},
  };
  class Noop extends pulumi.dynamic.Resource {
    constructor(name, args, opts) {
      super(noop, name, args, opts, "linuxnet", "Noop");
    }
  }
  for (let i = 0; i < 2 * n + 2; i++) new Noop(`r${i}`, { label: `r${i}` });
} else {
  const linuxnet = require(path.resolve(__dirname, "../../dist/provider"));
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
