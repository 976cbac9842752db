/** virtio_net_hdr layout: little-endian fields, the ECN bit kept out of gso_type. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  emptyVnetHeader,
  GSO_ECN,
  GSO_TCPV4,
  GSO_TCPV6,
  readVnetHeader,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  writeVnetHeader,
  writeZeroVnetHeader,
} from "./vnet_header.ts";

describe("virtio_net_hdr", () => {
  it("reads the little-endian layout and masks the ECN bit", () => {
    const b = new Uint8Array([0xee, 1, VNET_F_NEEDS_CSUM, GSO_TCPV4 | GSO_ECN, 0x42, 0, 0xa8, 0x05, 0x14, 0x00, 0x10, 0x00]);
    const h = readVnetHeader(b, 2, emptyVnetHeader());
    assert.deepEqual(h, { flags: 1, gsoType: GSO_TCPV4, ecn: true, hdrLen: 0x42, gsoSize: 1448, csumStart: 20, csumOffset: 16 });
  });

  it("round-trips through writeVnetHeader, reusing one object", () => {
    const b = new Uint8Array(VNET_HDR_LEN);
    const h = { flags: 1, gsoType: GSO_TCPV6, ecn: false, hdrLen: 72, gsoSize: 1428, csumStart: 40, csumOffset: 16 };
    writeVnetHeader(b, 0, h);
    assert.deepEqual([...b], [1, 4, 72, 0, 0x94, 0x05, 40, 0, 16, 0]);
    const out = emptyVnetHeader();
    assert.equal(readVnetHeader(b, 0, out), out);
    assert.deepEqual(out, h);
    writeVnetHeader(b, 0, { ...h, ecn: true });
    assert.equal(b[1], GSO_TCPV6 | GSO_ECN);
    writeZeroVnetHeader(b, 0);
    assert.deepEqual([...b], new Array(10).fill(0));
  });
});
