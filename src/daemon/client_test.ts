/** The client's reconnect backoff and `srcaddr` resolution. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { SessionConfig } from "../config/config.ts";
import { reconnectDelay, sourceEndpoint } from "./client.ts";

describe("reconnectDelay", () => {
  it("starts at vtund's 5 s, doubles while attempts fail, stops at a minute", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 20].map(reconnectDelay), [5000, 10000, 20000, 40000, 60000, 60000, 60000]);
  });
});

describe("sourceEndpoint (srcaddr)", () => {
  const s = (srcaddr: SessionConfig["srcaddr"]) => ({ srcaddr }) as SessionConfig;
  it("none: bind nowhere", () => {
    assert.equal(sourceEndpoint(s(null), 4), undefined);
  });
  it("an address and port", () => {
    assert.deepEqual(sourceEndpoint(s({ addr: "10.1.2.3", iface: null, port: 4000 }), 4), { family: 4, address: "10.1.2.3", port: 4000 });
  });
  it("a port alone binds the any-address of the server's family", () => {
    assert.deepEqual(sourceEndpoint(s({ addr: null, iface: null, port: 4000 }), 6), { family: 6, address: "::", port: 4000 });
  });
  it("an interface: its address (lo has 127.0.0.1)", () => {
    assert.deepEqual(sourceEndpoint(s({ addr: null, iface: "lo", port: null }), 4), { family: 4, address: "127.0.0.1", port: 0 });
  });
  it("an address of the wrong family or a missing interface is a clear error", () => {
    assert.throws(() => sourceEndpoint(s({ addr: "10.1.2.3", iface: null, port: null }), 6), /srcaddr: 10\.1\.2\.3 is not an IPv6 address/);
    assert.throws(() => sourceEndpoint(s({ addr: null, iface: "nosuchif0", port: null }), 4), /srcaddr: interface "nosuchif0"/);
  });
});
