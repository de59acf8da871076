/**
 * An ephemeral VM and the network inside it, in one stack, with no cloud
 * account: `linuxnet.lab.LabHost` makes a stand-in VM on the machine running
 * `pulumi up` (root needed), whose sshd starts late like a booting VM. Its
 * `connection` output is the connection of every resource on it; they wait
 * for sshd (`dialTimeoutMs`), and `deletedWith: vm` lets them go with the VM
 * on destroy instead of one by one.
 */

import * as pulumi from "@pulumi/pulumi";
import * as linuxnet from "pulumi-linuxnet";

const config = new pulumi.Config();

const vm = new linuxnet.lab.LabHost("vm", {
  fabric: config.get("fabric") ?? "10.213.250.0/24",
  sshdDelayMs: config.getNumber("bootMs") ?? 5000,
});

// Known once the VM exists; the first command keeps dialling while its sshd starts.
const connection = vm.connection.apply((c) => ({ ...c, dialTimeoutMs: 120_000 }));
const withVm: pulumi.CustomResourceOptions = { deletedWith: vm };

const bridge = new linuxnet.Bridge(
  "br0",
  { connection, name: "br0", addresses: ["10.0.0.254/24"], acceptForwarding: true },
  withVm,
);

function member(color: string, address: string) {
  const ns = new linuxnet.Namespace(`ns-${color}`, { connection, name: `ns-${color}` }, withVm);
  const veth = new linuxnet.VethPair(
    `veth-${color}`,
    {
      connection,
      a: { name: `veth-${color}`, namespace: ns.name, addresses: [`${address}/24`] },
      b: { name: `veth-${color}-br`, bridge: bridge.name },
    },
    withVm,
  );
  return { ns, veth };
}

const blue = member("blue", "10.0.0.1");
const green = member("green", "10.0.0.2");

// `pulumi up` fails with the doctor's diagnosis if blue cannot reach green.
const check = new linuxnet.ConnectivityCheck(
  "blue-to-green",
  { connection, from: { namespace: blue.ns.name }, to: { address: "10.0.0.2" } },
  { ...withVm, dependsOn: [blue.veth, green.veth] },
);

export const address = vm.address;
export const hostKeyFingerprint = vm.hostKeyFingerprint;
export const bootId = vm.bootId;
export const ssh = pulumi.interpolate`ssh root@${vm.address}`;
export const connectivity = check.summary;
