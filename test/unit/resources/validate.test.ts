import { describe, expect, it } from "vitest";
import {
  Checker,
  MAX_INTERFACE_NAME_BYTES,
  UNKNOWN,
  checkAddresses,
  formatAddress,
  interfaceNameProblem,
  isUnknown,
  mtuProblem,
  namespaceNameProblem,
  parseAddress,
  parseInterfaceAddress,
  parseNetwork,
} from "../../../provider/resources/validate";
import { labelled } from "../support";

describe("interfaceNameProblem", () => {
  it.each(
    labelled([
      { label: "a short name", name: "eth0" },
      { label: "a name of exactly 15 bytes", name: "a".repeat(MAX_INTERFACE_NAME_BYTES) },
      { label: "dots, dashes and underscores inside", name: "veth_a.b-c" },
      { label: "a single character", name: "x" },
      { label: "a name ending in a dash", name: "br-" },
    ]),
  )("accepts %s", (_label, { name }) => {
    expect(interfaceNameProblem(name)).toBeUndefined();
  });

  it.each(
    labelled([
      { label: "the empty name", name: "", match: /empty/ },
      { label: "a 16-byte name", name: "a".repeat(16), match: /at most 15 bytes.*got 16/ },
      {
        label: "14 ASCII bytes and one two-byte letter",
        name: "a".repeat(14) + "é",
        match: /got 16/,
      },
      { label: '"."', name: ".", match: /"\."/ },
      { label: '".."', name: "..", match: /"\.\."/ },
      { label: "a slash", name: "a/b", match: /"\/"/ },
      { label: "a colon (an alias label)", name: "eth0:1", match: /":"/ },
      { label: "a space", name: "a b", match: /white space/ },
      { label: "a tab", name: "a\tb", match: /white space \("\\t"\)/ },
      { label: "a newline", name: "a\nb", match: /white space/ },
      { label: "a NUL byte", name: "a\0b", match: /control character \(U\+0000\)/ },
      { label: "DEL", name: "a\x7fb", match: /control character \(U\+007f\)/ },
      { label: "a leading dash", name: "-eth0", match: /must not start with "-"/ },
      { label: "a Cyrillic е", name: "v\u0435th0", match: /non-ASCII/ },
      { label: "an emoji", name: "br\u{1F600}", match: /non-ASCII/ },
      { label: "a plus sign (an iptables wildcard)", name: "eth+", match: /"\+"/ },
      { label: "a semicolon", name: "a;b", match: /";"/ },
      { label: "a dollar sign", name: "$(x)", match: /"\$"/ },
      { label: "a number instead of a string", name: 42, match: /must be a string, got number/ },
      { label: "undefined", name: undefined, match: /must be a string, got undefined/ },
    ]),
  )("rejects %s", (_label, { name, match }) => {
    expect(interfaceNameProblem(name)).toMatch(match);
  });
});

describe("namespaceNameProblem", () => {
  it.each(
    labelled([
      { label: "a short name", name: "ns-blue" },
      { label: "a name of 64 bytes", name: "n".repeat(64) },
      { label: "a name longer than an interface name", name: "namespace-of-20-byte" },
    ]),
  )("accepts %s", (_label, { name }) => {
    expect(namespaceNameProblem(name)).toBeUndefined();
  });

  it.each(
    labelled([
      { label: "the empty name", name: "", match: /empty/ },
      { label: "a 65-byte name", name: "n".repeat(65), match: /64 bytes/ },
      { label: '"."', name: ".", match: /"\."/ },
      { label: '".."', name: "..", match: /"\.\."/ },
      { label: "a path", name: "../etc", match: /"\/"/ },
      { label: "a leading dash", name: "-n", match: /must not start with "-"/ },
      { label: "white space", name: "ns blue", match: /white space/ },
      { label: "a backtick", name: "ns`id`", match: /"`"/ },
      { label: "a non-ASCII letter", name: "nś", match: /non-ASCII/ },
      { label: "a boolean", name: true, match: /must be a string, got boolean/ },
    ]),
  )("rejects %s", (_label, { name, match }) => {
    expect(namespaceNameProblem(name)).toMatch(match);
  });
});

describe("parseInterfaceAddress", () => {
  it.each(
    labelled([
      {
        label: "an IPv4 host address",
        input: "10.0.0.1/24",
        address: "10.0.0.1",
        prefixLength: 24,
        family: "inet",
      },
      {
        label: "the last host of a /24",
        input: "10.0.0.254/24",
        address: "10.0.0.254",
        prefixLength: 24,
        family: "inet",
      },
      {
        label: "a /31 network address (RFC 3021)",
        input: "10.0.0.0/31",
        address: "10.0.0.0",
        prefixLength: 31,
        family: "inet",
      },
      {
        label: "a /31 upper address",
        input: "10.0.0.1/31",
        address: "10.0.0.1",
        prefixLength: 31,
        family: "inet",
      },
      {
        label: "a /32",
        input: "192.168.1.0/32",
        address: "192.168.1.0",
        prefixLength: 32,
        family: "inet",
      },
      {
        label: "a /32 ending in .255",
        input: "192.168.1.255/32",
        address: "192.168.1.255",
        prefixLength: 32,
        family: "inet",
      },
      {
        label: "an IPv6 address",
        input: "fd00::1/64",
        address: "fd00::1",
        prefixLength: 64,
        family: "inet6",
      },
      {
        label: "an IPv6 address in capitals",
        input: "FD00:0::1/64",
        address: "fd00::1",
        prefixLength: 64,
        family: "inet6",
      },
      {
        label: "an IPv6 /128",
        input: "2001:db8::5/128",
        address: "2001:db8::5",
        prefixLength: 128,
        family: "inet6",
      },
      {
        label: "an IPv6 link-local address",
        input: "fe80::1/64",
        address: "fe80::1",
        prefixLength: 64,
        family: "inet6",
      },
    ]),
  )("accepts %s", (_label, { input, address, prefixLength, family }) => {
    expect(parseInterfaceAddress(input)).toEqual({ address, prefixLength, family });
  });

  it.each(
    labelled([
      {
        label: "the network address of a /24",
        input: "10.0.0.0/24",
        match: /network address of 10\.0\.0\.0\/24/,
      },
      {
        label: "the broadcast address of a /24",
        input: "10.0.0.255/24",
        match: /broadcast address of 10\.0\.0\.0\/24/,
      },
      {
        label: "the network address of a /30",
        input: "10.0.0.4/30",
        match: /network address of 10\.0\.0\.4\/30/,
      },
      {
        label: "the broadcast address of a /30",
        input: "10.0.0.7/30",
        match: /broadcast address of 10\.0\.0\.4\/30/,
      },
      {
        label: "the broadcast address of a /16",
        input: "172.16.255.255/16",
        match: /broadcast address of 172\.16\.0\.0\/16/,
      },
      { label: "an address without a prefix", input: "10.0.0.1", match: /with a prefix length/ },
      { label: "a prefix over 32", input: "10.0.0.1/33", match: /with a prefix length/ },
      { label: "an octet over 255", input: "10.0.0.256/24", match: /with a prefix length/ },
      { label: "an IPv6 prefix over 128", input: "fd00::1/129", match: /with a prefix length/ },
      { label: "words", input: "abc", match: /with a prefix length/ },
      { label: "the empty string", input: "", match: /with a prefix length/ },
      { label: "a leading space", input: " 10.0.0.1/24", match: /with a prefix length/ },
      { label: "a short form that ip(8) reads otherwise", input: "10.1/24", match: /dotted-quad/ },
      { label: "a leading zero (octal to ipaddr.js)", input: "010.0.0.1/24", match: /dotted-quad/ },
      { label: "a hex octet", input: "0x0a.0.0.1/24", match: /dotted-quad/ },
      { label: "the unspecified IPv4 address", input: "0.0.0.0/32", match: /unspecified/ },
      { label: "the unspecified IPv6 address", input: "::/0", match: /unspecified/ },
      { label: "an IPv4 multicast address", input: "224.0.0.1/32", match: /multicast/ },
      { label: "an IPv6 multicast address", input: "ff02::1/64", match: /multicast/ },
      // ip(8) parses addresses with inet_pton, which refuses a zone index: check must refuse it first.
      { label: "an IPv6 address with a zone index", input: "fe80::1%eth0/64", match: /.+/ },
      { label: "a number", input: 10, match: /must be a string/ },
    ]),
  )("rejects %s", (_label, { input, match }) => {
    const result = parseInterfaceAddress(input);
    expect(typeof result).toBe("string");
    expect(result).toMatch(match);
  });
});

describe("parseNetwork", () => {
  it.each(
    labelled([
      { label: "an IPv4 network", input: "10.0.0.0/24", cidr: "10.0.0.0/24", family: "inet" },
      { label: "the whole IPv4 space", input: "0.0.0.0/0", cidr: "0.0.0.0/0", family: "inet" },
      { label: "a /32", input: "10.9.8.7/32", cidr: "10.9.8.7/32", family: "inet" },
      {
        label: "an IPv6 network",
        input: "fd00:0:0:1::/64",
        cidr: "fd00:0:0:1::/64",
        family: "inet6",
      },
      {
        label: "an IPv6 network in capitals",
        input: "FD00::/8",
        cidr: "fd00::/8",
        family: "inet6",
      },
      { label: "the whole IPv6 space", input: "::/0", cidr: "::/0", family: "inet6" },
    ]),
  )("accepts %s", (_label, { input, cidr, family }) => {
    expect(parseNetwork(input)).toEqual({ cidr, family });
  });

  it.each(
    labelled([
      {
        label: "host bits in a /24",
        input: "10.0.0.1/24",
        reason: 'has host bits set: did you mean "10.0.0.0/24"?',
      },
      {
        label: "host bits in a /16",
        input: "10.1.2.3/16",
        reason: 'has host bits set: did you mean "10.1.0.0/16"?',
      },
      {
        label: "host bits in an IPv6 /64",
        input: "fd00::1/64",
        reason: 'has host bits set: did you mean "fd00::/64"?',
      },
      {
        label: "host bits in a /0",
        input: "10.0.0.0/0",
        reason: 'has host bits set: did you mean "0.0.0.0/0"?',
      },
    ]),
  )("rejects %s and suggests the network", (_label, { input, reason }) => {
    expect(parseNetwork(input)).toBe(reason);
  });

  it.each(
    labelled([
      { label: "a prefix over 32", input: "10.0.0.0/33", match: /CIDR form/ },
      { label: "an octet over 255", input: "10.0.0.256/24", match: /CIDR form/ },
      { label: "no prefix", input: "10.0.0.0", match: /CIDR form/ },
      { label: "words", input: "abc", match: /CIDR form/ },
      { label: "the word default", input: "default", match: /CIDR form/ },
      { label: "a short form", input: "10.0/16", match: /dotted-quad/ },
      { label: "a leading zero", input: "010.0.0.0/8", match: /dotted-quad/ },
      { label: "undefined", input: undefined, match: /must be a network/ },
    ]),
  )("rejects %s", (_label, { input, match }) => {
    expect(parseNetwork(input)).toMatch(match);
  });
});

describe("parseAddress", () => {
  it.each(
    labelled([
      { label: "an IPv4 gateway", input: "10.0.0.254", address: "10.0.0.254", family: "inet" },
      { label: "an IPv6 gateway", input: "fd00::1", address: "fd00::1", family: "inet6" },
      {
        label: "an IPv6 gateway written long",
        input: "FD00:0:0:0:0:0:0:1",
        address: "fd00::1",
        family: "inet6",
      },
      {
        label: "an IPv6 link-local gateway",
        input: "fe80::1",
        address: "fe80::1",
        family: "inet6",
      },
    ]),
  )("accepts %s", (_label, { input, address, family }) => {
    expect(parseAddress(input)).toEqual({ address, family });
  });

  it.each(
    labelled([
      { label: "a two-part short form", input: "10.1", match: /dotted-quad/ },
      { label: "a leading zero", input: "010.0.0.1", match: /dotted-quad/ },
      { label: "a hex octet", input: "0xa.0.0.1", match: /dotted-quad/ },
      { label: "a single number", input: "167772161", match: /dotted-quad/ },
      { label: "an octet over 255", input: "10.0.0.256", match: /IP address/ },
      { label: "a CIDR", input: "10.0.0.1/24", match: /IP address/ },
      { label: "words", input: "gateway", match: /IP address/ },
      { label: "a trailing space", input: "10.0.0.1 ", match: /IP address/ },
      { label: "the unspecified IPv4 address", input: "0.0.0.0", match: /unspecified/ },
      { label: "the unspecified IPv6 address", input: "::", match: /unspecified/ },
      { label: "a number", input: 10, match: /IP address/ },
      // As for interface addresses: ip(8) refuses "via fe80::1%eth0"; the device goes in `device`.
      { label: "an IPv6 gateway with a zone index", input: "fe80::1%eth0", match: /.+/ },
    ]),
  )("rejects %s", (_label, { input, match }) => {
    expect(parseAddress(input)).toMatch(match);
  });
});

describe("mtuProblem", () => {
  it.each(
    labelled([
      { label: "the IPv4 minimum", mtu: 68 },
      { label: "Ethernet", mtu: 1500 },
      { label: "jumbo frames", mtu: 9000 },
      { label: "the maximum", mtu: 65535 },
    ]),
  )("accepts %s", (_label, { mtu }) => {
    expect(mtuProblem(mtu)).toBeUndefined();
  });

  it.each(
    labelled([
      { label: "one below the minimum", mtu: 67, match: /from 68 to 65535, got 67/ },
      { label: "one above the maximum", mtu: 65536, match: /got 65536/ },
      { label: "a huge number", mtu: 1e9, match: /got 1000000000/ },
      { label: "zero", mtu: 0, match: /got 0/ },
      { label: "a negative number", mtu: -1500, match: /got -1500/ },
      { label: "a fraction", mtu: 1500.5, match: /must be an integer, got 1500.5/ },
      { label: "NaN", mtu: NaN, match: /must be an integer, got NaN/ },
      { label: "Infinity", mtu: Infinity, match: /must be an integer, got Infinity/ },
      { label: "a string of digits", mtu: "1500", match: /must be an integer, got "1500"/ },
    ]),
  )("rejects %s", (_label, { mtu, match }) => {
    expect(mtuProblem(mtu)).toMatch(match);
  });
});

describe("checkAddresses", () => {
  it("normalises every address and reports nothing for a good list", () => {
    const c = new Checker();
    const out = checkAddresses(c, "addresses", ["10.0.0.1/24", "FD00::1/64"]);
    expect(c.failures).toEqual([]);
    expect(out?.map(formatAddress)).toEqual(["10.0.0.1/24", "fd00::1/64"]);
  });

  it("treats an absent list as an empty one", () => {
    const c = new Checker();
    expect(checkAddresses(c, "addresses", undefined)).toEqual([]);
    expect(c.failures).toEqual([]);
  });

  it.each(
    labelled([
      { label: "the whole list is unknown", value: UNKNOWN },
      { label: "one element is unknown", value: ["10.0.0.1/24", UNKNOWN] },
      { label: "every element is unknown", value: [UNKNOWN, UNKNOWN] },
    ]),
  )("lets the list through without failures when %s", (_label, { value }) => {
    const c = new Checker();
    expect(checkAddresses(c, "addresses", value)).toBeUndefined();
    expect(c.failures).toEqual([]);
  });

  it.each(
    labelled([
      {
        label: "the same address twice",
        value: ["10.0.0.1/24", "10.0.0.1/24"],
        failures: [{ property: "a.addresses[1]", reason: "repeats the address 10.0.0.1" }],
      },
      {
        label: "the same address with another prefix",
        value: ["10.0.0.1/24", "10.0.0.1/16"],
        failures: [{ property: "a.addresses[1]", reason: "repeats the address 10.0.0.1" }],
      },
      {
        label: "the same IPv6 address written two ways",
        value: ["fd00::1/64", "FD00:0::1/64"],
        failures: [{ property: "a.addresses[1]", reason: "repeats the address fd00::1" }],
      },
    ]),
  )("reports %s at the repeated element", (_label, { value, failures }) => {
    const c = new Checker();
    expect(checkAddresses(c, "a.addresses", value)).toBeUndefined();
    expect(c.failures).toEqual(failures);
  });

  it("reports each bad element by its index", () => {
    const c = new Checker();
    checkAddresses(c, "addresses", ["10.0.0.1/24", "abc", "10.0.0.255/24"]);
    expect(c.failures.map((f) => f.property)).toEqual(["addresses[1]", "addresses[2]"]);
    expect(c.failures.every((f) => f.reason.length > 0)).toBe(true);
  });

  it.each(
    labelled([
      { label: "a single string", value: "10.0.0.1/24" },
      { label: "an object", value: { 0: "10.0.0.1/24" } },
    ]),
  )("reports %s as not a list", (_label, { value }) => {
    const c = new Checker();
    expect(checkAddresses(c, "addresses", value)).toBeUndefined();
    expect(c.failures).toEqual([{ property: "addresses", reason: expect.stringMatching(/list/) }]);
  });
});

describe("isUnknown", () => {
  it.each(
    labelled([
      { label: "the placeholder", value: UNKNOWN, unknown: true },
      { label: "an empty string", value: "", unknown: false },
      { label: "undefined", value: undefined, unknown: false },
      { label: "a lookalike in capitals", value: UNKNOWN.toUpperCase(), unknown: false },
    ]),
  )("says whether %s is unknown", (_label, { value, unknown }) => {
    expect(isUnknown(value)).toBe(unknown);
  });
});
