/**
 * IP address text and socket address bytes: IPv4/IPv6 parsing (valid and
 * invalid forms), RFC 5952 formatting, the byte layout of sockaddr_in and
 * sockaddr_in6 as Linux expects it, and the round trip through decodeSockaddr.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  addressFamily,
  decodeSockaddr,
  encodeSockaddr,
  formatAddress,
  formatEndpoint,
  parseIPv4,
  plainAddress,
  parseIPv6,
  SOCKADDR_MAX,
  type Endpoint,
} from "./address.ts";

/** 16 bytes from 8 16-bit groups. */
function v6(...words: number[]): Uint8Array {
  assert.equal(words.length, 8);
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

function bytes(b: Uint8Array | null): number[] | null {
  return b === null ? null : Array.from(b);
}

describe("parseIPv4", () => {
  it("valid addresses", () => {
    assert.deepEqual(bytes(parseIPv4("10.0.0.1")), [10, 0, 0, 1]);
    assert.deepEqual(bytes(parseIPv4("0.0.0.0")), [0, 0, 0, 0]);
    assert.deepEqual(bytes(parseIPv4("255.255.255.255")), [255, 255, 255, 255]);
    assert.deepEqual(bytes(parseIPv4("192.168.1.200")), [192, 168, 1, 200]);
  });

  it("invalid addresses", () => {
    for (const bad of [
      "256.0.0.1",
      "1.2.3.256",
      "1.2.3",
      "1.2.3.4.5",
      "x1.2.3.4",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.4x",
      "1..3.4",
      "1.2.3.",
      "",
      "-1.2.3.4",
      "1.2.3.0x4",
      "1234.1.1.1",
      "::1",
      "localhost",
    ]) {
      assert.equal(parseIPv4(bad), null, `accepted ${JSON.stringify(bad)}`);
    }
  });
});

describe("parseIPv6", () => {
  it("::", () => {
    assert.deepEqual(bytes(parseIPv6("::")), new Array<number>(16).fill(0));
  });

  it("::1", () => {
    assert.deepEqual(parseIPv6("::1"), v6(0, 0, 0, 0, 0, 0, 0, 1));
  });

  it("fe80::1%eth0: the zone is dropped", () => {
    assert.deepEqual(parseIPv6("fe80::1%eth0"), v6(0xfe80, 0, 0, 0, 0, 0, 0, 1));
  });

  it("2001:db8::1 and upper-case hex", () => {
    assert.deepEqual(parseIPv6("2001:db8::1"), v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(parseIPv6("2001:DB8::AbCd"), v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0xabcd));
  });

  it("full 8 groups, with and without leading zeros", () => {
    assert.deepEqual(parseIPv6("1:2:3:4:5:6:7:8"), v6(1, 2, 3, 4, 5, 6, 7, 8));
    assert.deepEqual(parseIPv6("2001:0db8:0000:0000:0000:ff00:0042:8329"), v6(0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329));
  });

  it(":: at the start, middle and end, standing for one group or more", () => {
    assert.deepEqual(parseIPv6("1::"), v6(1, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(parseIPv6("1:2:3:4:5:6:7::"), v6(1, 2, 3, 4, 5, 6, 7, 0));
    assert.deepEqual(parseIPv6("::2:3:4:5:6:7:8"), v6(0, 2, 3, 4, 5, 6, 7, 8));
    assert.deepEqual(parseIPv6("1:2::7:8"), v6(1, 2, 0, 0, 0, 0, 7, 8));
  });

  it("embedded IPv4", () => {
    assert.deepEqual(parseIPv6("::ffff:1.2.3.4"), v6(0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304));
    assert.deepEqual(parseIPv6("64:ff9b::192.0.2.33"), v6(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221));
    assert.deepEqual(parseIPv6("1:2:3:4:5:6:10.0.0.1"), v6(1, 2, 3, 4, 5, 6, 0x0a00, 0x0001));
  });

  it("invalid addresses", () => {
    for (const bad of [
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "1:2:3:4::5:6:7:8",
      "gggg::",
      "12345::",
      ":1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:",
      ":::",
      "",
      "1.2.3.4",
      "::1.2.3",
      "::256.1.1.1",
      "::1.2.3.4:5",
      "1.2.3.4::",
      "1.2.3.4::1",
      "1:2:3:4:5:6:7:1.2.3.4",
      " ::1",
    ]) {
      assert.equal(parseIPv6(bad), null, `accepted ${JSON.stringify(bad)}`);
    }
  });
});

describe("addressFamily", () => {
  it("tells the families apart", () => {
    assert.equal(addressFamily("10.0.0.1"), 4);
    assert.equal(addressFamily("::"), 6);
    assert.equal(addressFamily("::ffff:10.0.0.1"), 6);
    assert.equal(addressFamily("vpn.example.org"), null);
    assert.equal(addressFamily(""), null);
  });
});

describe("formatAddress", () => {
  it("IPv4", () => {
    assert.equal(formatAddress(new Uint8Array([10, 0, 0, 1])), "10.0.0.1");
    assert.equal(formatAddress(new Uint8Array([255, 0, 128, 7])), "255.0.128.7");
  });

  it("all zeros, loopback, a trailing zero run", () => {
    assert.equal(formatAddress(new Uint8Array(16)), "::");
    assert.equal(formatAddress(v6(0, 0, 0, 0, 0, 0, 0, 1)), "::1");
    assert.equal(formatAddress(v6(1, 0, 0, 0, 0, 0, 0, 0)), "1::");
    assert.equal(formatAddress(v6(0xfe80, 0, 0, 0, 0, 0, 0, 1)), "fe80::1");
  });

  it("lower-case hex without leading zeros", () => {
    assert.equal(formatAddress(v6(0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329)), "2001:db8::ff00:42:8329");
    assert.equal(formatAddress(v6(0xabcd, 0xef01, 0x2345, 0x6789, 0xabcd, 0xef01, 0x2345, 0x6789)), "abcd:ef01:2345:6789:abcd:ef01:2345:6789");
  });

  it("the longest zero run is compressed", () => {
    assert.equal(formatAddress(v6(1, 0, 0, 2, 0, 0, 0, 3)), "1:0:0:2::3");
    assert.equal(formatAddress(v6(1, 0, 0, 0, 2, 0, 0, 3)), "1::2:0:0:3");
  });

  it("of equally long runs the first is compressed", () => {
    assert.equal(formatAddress(v6(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), "2001:db8::1:0:0:1");
  });

  it("a single zero group is not compressed (RFC 5952 4.2.2)", () => {
    assert.equal(formatAddress(v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), "2001:db8:0:1:1:1:1:1");
    assert.equal(formatAddress(v6(1, 2, 3, 4, 5, 6, 7, 0)), "1:2:3:4:5:6:7:0");
  });

  it("IPv4-mapped addresses as ::ffff:a.b.c.d", () => {
    assert.equal(formatAddress(v6(0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0002)), "::ffff:10.0.0.2");
    // Not mapped: only ::ffff:0:0/96 is.
    assert.equal(formatAddress(v6(0, 0, 0, 0, 1, 0xffff, 0x0a00, 0x0002)), "::1:ffff:a00:2");
  });

  it("parse then format gives the canonical text", () => {
    for (const [text, canonical] of [
      ["2001:0DB8:0:0:0:0:0:0001", "2001:db8::1"],
      ["fe80::1%eth0", "fe80::1"],
      ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
      ["0:0:0:0:0:0:0:0", "::"],
    ] as const) {
      const parsed = parseIPv6(text);
      assert.ok(parsed, text);
      assert.equal(formatAddress(parsed), canonical);
    }
  });
});

describe("encodeSockaddr / decodeSockaddr", () => {
  it("sockaddr_in: 16 bytes, family 2 little-endian, port big-endian, address at 4", () => {
    const sa = encodeSockaddr({ family: 4, address: "10.1.2.3", port: 5000 });
    assert.deepEqual(Array.from(sa), [2, 0, 0x13, 0x88, 10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("sockaddr_in6: 28 bytes, family 10, port at 2, flowinfo 0, address at 8, scope 0", () => {
    const sa = encodeSockaddr({ family: 6, address: "2001:db8::1", port: 0xabcd });
    const expected = [10, 0, 0xab, 0xcd, 0, 0, 0, 0, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];
    assert.deepEqual(Array.from(sa), expected);
    assert.equal(sa.length, SOCKADDR_MAX);
  });

  it("port 0 and 65535 are encodable", () => {
    assert.deepEqual(Array.from(encodeSockaddr({ family: 4, address: "0.0.0.0", port: 0 }).subarray(0, 4)), [2, 0, 0, 0]);
    assert.deepEqual(Array.from(encodeSockaddr({ family: 4, address: "0.0.0.0", port: 65535 }).subarray(0, 4)), [2, 0, 0xff, 0xff]);
  });

  it("round trips", () => {
    const cases: Endpoint[] = [
      { family: 4, address: "10.201.0.1", port: 5000 },
      { family: 4, address: "255.255.255.255", port: 65535 },
      { family: 6, address: "::", port: 1 },
      { family: 6, address: "fe80::1", port: 41234 },
      { family: 6, address: "::ffff:10.0.0.2", port: 5000 },
      { family: 6, address: "2001:db8:0:1:1:1:1:1", port: 443 },
    ];
    for (const ep of cases) assert.deepEqual(decodeSockaddr(encodeSockaddr(ep)), ep);
  });

  it("decodes the canonical text of a non-canonical address", () => {
    const ep = decodeSockaddr(encodeSockaddr({ family: 6, address: "2001:0DB8::0001%eth0", port: 7 }));
    assert.deepEqual(ep, { family: 6, address: "2001:db8::1", port: 7 });
  });

  it("decodes from a view into a larger buffer (non-zero byteOffset)", () => {
    const big = new Uint8Array(40);
    big.set(encodeSockaddr({ family: 4, address: "192.0.2.7", port: 8080 }), 5);
    assert.deepEqual(decodeSockaddr(big.subarray(5, 5 + 16)), { family: 4, address: "192.0.2.7", port: 8080 });
  });

  it("decodes a kernel-filled SOCKADDR_MAX buffer holding a sockaddr_in", () => {
    const buf = new Uint8Array(SOCKADDR_MAX).fill(0xee);
    buf.set(encodeSockaddr({ family: 4, address: "10.0.0.9", port: 22 }));
    assert.deepEqual(decodeSockaddr(buf), { family: 4, address: "10.0.0.9", port: 22 });
  });

  it("bad addresses are refused", () => {
    assert.throws(() => encodeSockaddr({ family: 4, address: "::1", port: 1 }), /"::1" is not an IPv4 address/);
    assert.throws(() => encodeSockaddr({ family: 6, address: "10.0.0.1", port: 1 }), /"10.0.0.1" is not an IPv6 address/);
    assert.throws(() => encodeSockaddr({ family: 4, address: "256.0.0.1", port: 1 }), /not an IPv4 address/);
  });

  it("bad ports are refused", () => {
    for (const port of [-1, 65536, 1.5, Number.NaN]) {
      assert.throws(() => encodeSockaddr({ family: 4, address: "10.0.0.1", port }), /port .* out of range/, String(port));
    }
  });

  it("an unknown family is refused when decoding", () => {
    const buf = new Uint8Array(16);
    buf[0] = 1; // AF_UNIX
    assert.throws(() => decodeSockaddr(buf), /unsupported socket address family 1/);
  });
});

describe("formatEndpoint", () => {
  it("IPv4 and bracketed IPv6", () => {
    assert.equal(formatEndpoint({ family: 4, address: "1.2.3.4", port: 5000 }), "1.2.3.4:5000");
    assert.equal(formatEndpoint({ family: 6, address: "fe80::1", port: 5000 }), "[fe80::1]:5000");
  });
});

describe("plainAddress", () => {
  it("shows an IPv4-mapped peer of a dual-stack socket as IPv4, everything else unchanged", () => {
    assert.equal(plainAddress({ family: 6, address: "::ffff:10.201.0.2", port: 1 }), "10.201.0.2");
    assert.equal(formatEndpoint({ family: 6, address: "::ffff:10.201.0.2", port: 7 }), "10.201.0.2:7");
    assert.equal(plainAddress({ family: 6, address: "::ffff:a01:2", port: 1 }), "::ffff:a01:2");
    assert.equal(plainAddress({ family: 6, address: "fd00::1", port: 1 }), "fd00::1");
    assert.equal(plainAddress({ family: 4, address: "1.2.3.4", port: 1 }), "1.2.3.4");
  });
});
