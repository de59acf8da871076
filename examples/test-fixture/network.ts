/**
 * The network the suite runs against, as an inline Pulumi program (no
 * Pulumi.yaml to keep): a stand-in VM on this machine (`linuxnet.lab.LabHost`,
 * root needed; swap in your cloud VM and its connection) and, on it, a
 * namespace with a veth to the VM's own namespace. Everything is tied to the
 * VM with `deletedWith`, so destroy is one delete of the VM.
 */

import * as pulumi from "@pulumi/pulumi";
import * as linuxnet from "pulumi-linuxnet";

/** What the tests get: where the VM is and how to log in to it (key as text). */
export interface Network {
  address: string;
  hostKey: string;
  privateKey: string;
  /** The namespace made on the VM and its address; the VM's end is `gateway`. */
  namespace: string;
  inside: string;
  gateway: string;
}

export function program(fabric: string) {
  return async () => {
    const vm = new linuxnet.lab.LabHost("vm", { fabric });
    const connection = vm.connection;
    const withVm = { deletedWith: vm };
    const ns = new linuxnet.Namespace("app", { connection, name: "app" }, withVm);
    const veth = new linuxnet.VethPair(
      "app",
      {
        connection,
        a: { name: "app0", namespace: ns.name, addresses: ["10.99.0.2/24"] },
        b: { name: "app-host", addresses: ["10.99.0.1/24"] },
      },
      withVm,
    );
    new linuxnet.ConnectivityCheck(
      "app-to-host",
      { connection, from: { namespace: ns.name }, to: { address: "10.99.0.1" } },
      { ...withVm, dependsOn: [veth] },
    );
    return {
      address: vm.address,
      hostKey: vm.hostKey,
      privateKey: pulumi.unsecret(vm.privateKey),
      namespace: ns.name,
      inside: "10.99.0.2",
      gateway: "10.99.0.1",
    };
  };
}
