// The benchmark's multi-host topology (see Pulumi.yaml). Config: hosts (a secret JSON list of
// connections), perHost (namespaces per host).
const path = require("node:path");
const pulumi = require("@pulumi/pulumi");
const linuxnet = require(path.resolve(__dirname, "../../dist/provider"));

const config = new pulumi.Config();
const perHost = config.requireNumber("perHost");
const hosts = config.requireSecretObject("hosts");
const count = config.requireNumber("hostCount");
const addresses = pulumi.unsecret(hosts.apply((list) => list.map((h) => h.host)));

for (let h = 0; h < count; h++) {
  const connection = hosts.apply((list) => list[h]);
  const bridge = new linuxnet.Bridge(`br${h}`, { connection, name: "lnbench0" });
  const segment = new linuxnet.Vxlan(`vx${h}`, {
    connection,
    name: "lnbenchvx",
    vni: 4200,
    local: addresses.apply((a) => a[h]),
    remotes: addresses.apply((a) => a.filter((_, i) => i !== h)),
    bridge: bridge.name,
  });
  for (let i = 0; i < perHost; i++) {
    const ns = new linuxnet.Namespace(`ns${h}-${i}`, { connection, name: `bench${i}` });
    // One /16 across the segment: host h's namespaces from 10.77.(h*4).2 on.
    const n = h * 1024 + i + 2;
    new linuxnet.VethPair(`veth${h}-${i}`, {
      connection,
      a: {
        name: `bench${i}a`,
        namespace: ns.name,
        addresses: [`10.77.${n >> 8}.${n & 255}/16`],
      },
      b: { name: `bench${i}b`, bridge: bridge.name },
      mtu: segment.effectiveMtu,
    });
  }
}
