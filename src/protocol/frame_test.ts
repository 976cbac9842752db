/**
 * vtun frame headers: the constants against vtun-protocol.md §3, the header
 * writers and readers, and the post-handshake traffic of the real vtund 3.0.4
 * captures split into frames with readHeader/bodyLength: TCP streams
 * (tcp-plain and the other unencrypted, uncompressed TCP captures) start with
 * ECHO_REQ then ECHO_REP each way and their data frames carry exactly the ping
 * packets seen on the tun devices; UDP datagrams (udp-plain) each hold one
 * frame, likewise, and end with CONN_CLOSE.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  BAD_FRAME,
  bodyLength,
  CONN_CLOSE,
  CONTROL_MASK,
  controlName,
  ECHO_REP,
  ECHO_REQ,
  HEADER_SIZE,
  LENGTH_MASK,
  MAX_FRAME_BODY,
  MAX_PACKET,
  readHeader,
  writeControlHeader,
  writeDataHeader,
} from "./frame.ts";
import { decodeRecord } from "./record.ts";
import { allVectors, fromHex, handshakeRecords, loadVector, toHex, type Vector } from "../../test/vectors/vectors.ts";

interface Frame {
  header: number;
  body: Uint8Array;
  /** False when the captured prefix ends inside the body. */
  complete: boolean;
}

/** Splits a TCP byte stream into frames, at most `max` of them. */
function splitTcp(bytes: Uint8Array, max: number): Frame[] {
  const frames: Frame[] = [];
  let at = 0;
  while (frames.length < max && bytes.length - at >= HEADER_SIZE) {
    const header = readHeader(bytes, at);
    at += HEADER_SIZE;
    const n = bodyLength(header);
    const body = bytes.slice(at, at + n);
    frames.push({ header, body, complete: body.length === n });
    at += n;
  }
  return frames;
}

/** The ping requests (client to server) and replies seen on the tun devices, in order. */
function pings(v: Vector): { requests: string[]; replies: string[] } {
  return {
    requests: v.inner_icmp_packets.client_tun.filter((p) => p.src === v.tun_client).map((p) => p.hex),
    replies: v.inner_icmp_packets.server_tun.filter((p) => p.src === v.tun_server).map((p) => p.hex),
  };
}

describe("frame constants (vtun-protocol.md §3)", () => {
  it("match vtund's", () => {
    assert.equal(LENGTH_MASK, 0x0fff);
    assert.equal(CONTROL_MASK, 0xf000);
    assert.equal(CONN_CLOSE, 0x1000);
    assert.equal(ECHO_REQ, 0x2000);
    assert.equal(ECHO_REP, 0x4000);
    assert.equal(BAD_FRAME, 0x8000);
    assert.equal(HEADER_SIZE, 2);
    assert.equal(MAX_PACKET, 2048);
    assert.equal(MAX_FRAME_BODY, 2048 + 100);
  });
});

describe("frame headers", () => {
  it("writeDataHeader writes the length big-endian at the offset", () => {
    const buf = new Uint8Array(6).fill(0xee);
    writeDataHeader(buf, 2, 92);
    assert.equal(toHex(buf), "eeee005ceeee");
    writeDataHeader(buf, 0, 4095);
    assert.equal(toHex(buf.subarray(0, 2)), "0fff");
    writeDataHeader(buf, 4, 2148);
    assert.equal(toHex(buf.subarray(4)), "0864");
  });

  it("writeControlHeader writes the flag with no length", () => {
    const buf = new Uint8Array(2).fill(0xff);
    writeControlHeader(buf, 0, ECHO_REQ);
    assert.equal(toHex(buf), "2000");
    writeControlHeader(buf, 0, ECHO_REP);
    assert.equal(toHex(buf), "4000");
    writeControlHeader(buf, 0, CONN_CLOSE);
    assert.equal(toHex(buf), "1000");
  });

  it("readHeader reads big-endian at the offset", () => {
    assert.equal(readHeader(fromHex("aa005cbb"), 1), 0x005c);
    assert.equal(readHeader(fromHex("ffff"), 0), 0xffff);
  });

  it("bodyLength is the low 12 bits for data and 0 for any control frame", () => {
    assert.equal(bodyLength(0x005c), 92);
    assert.equal(bodyLength(0x0fff), 4095);
    assert.equal(bodyLength(0x0000), 0);
    assert.equal(bodyLength(0x2000), 0);
    assert.equal(bodyLength(0x2005), 0); // length bits of a control frame are not a body
    assert.equal(bodyLength(0x1fff), 0);
    assert.equal(bodyLength(0x8064), 0);
  });

  it("controlName names the three control frames", () => {
    assert.equal(controlName(CONN_CLOSE), "CONN_CLOSE");
    assert.equal(controlName(ECHO_REQ), "ECHO_REQ");
    assert.equal(controlName(ECHO_REP), "ECHO_REP");
    assert.equal(controlName(0x3000), "control 0x3000");
  });
});

describe("TCP frames of the plain captures", () => {
  // Unencrypted, uncompressed TCP sessions: the frame bodies are the packets themselves.
  const plain = allVectors().filter((v) => {
    const r = handshakeRecords(v);
    return r !== null && decodeRecord(r.s2c[2]) === "OK FLAGS: <Tu>";
  });

  it("include tcp-plain.json", () => {
    assert.ok(plain.some((v) => v.file === "tcp-plain.json"));
  });

  for (const v of plain) {
    describe(v.file, () => {
      const r = handshakeRecords(v)!;
      const { requests, replies } = pings(v);

      for (const [dir, stream, packets] of [
        ["c2s", r.after.c2s, requests],
        ["s2c", r.after.s2c, replies],
      ] as const) {
        it(`${dir}: ECHO_REQ, ECHO_REP, then the ${dir === "c2s" ? "echo requests" : "echo replies"} as data frames`, () => {
          assert.ok(packets.length >= 3, "the capture has the pings");
          // Stop after the frames of this session (sighup/ captures continue with the next connection).
          const frames = splitTcp(stream, 2 + packets.length);
          assert.equal(toHex(stream.subarray(0, 4)), "20004000");
          assert.equal(frames[0]!.header, ECHO_REQ);
          assert.equal(frames[1]!.header, ECHO_REP);
          const data = frames.slice(2);
          assert.ok(data.length >= 3, `only ${data.length} data frames in the prefix`);
          data.forEach((f, i) => {
            assert.equal(f.header & CONTROL_MASK, 0, `frame ${i} is data`);
            assert.equal(f.header, packets[i]!.length / 2, `frame ${i} length`);
            if (f.complete) assert.equal(toHex(f.body), packets[i], `frame ${i} body`);
            else assert.ok(packets[i]!.startsWith(toHex(f.body)), `truncated frame ${i} body`);
          });
        });
      }
    });
  }

  it("tcp-plain.json: the whole c2s prefix is 2 control frames and 3 complete 92-byte packets", () => {
    const v = loadVector("tcp-plain.json");
    const after = handshakeRecords(v)!.after.c2s;
    assert.equal(after.length, 4 + 3 * (2 + 92));
    const frames = splitTcp(after, 100);
    assert.deepEqual(frames.map((f) => f.header), [ECHO_REQ, ECHO_REP, 92, 92, 92]);
    assert.ok(frames.every((f) => f.complete));
  });
});

describe("TCP frames of all captures", () => {
  for (const v of allVectors()) {
    const r = handshakeRecords(v);
    if (r === null || !decodeRecord(r.s2c[2]).startsWith("OK FLAGS: <T")) continue;
    // sighup/ files merge two connections per direction; their first session is checked above.
    if (v.file.startsWith("sighup/")) continue;
    it(`${v.file}: each direction starts with 20 00 40 00, then data frames, and at most a final CONN_CLOSE`, () => {
      for (const stream of [r.after.c2s, r.after.s2c]) {
        if (stream.length === 0) continue; // the no-legacy-provider crash: nothing after FLAGS
        assert.equal(toHex(stream.subarray(0, 4)), "20004000");
        const frames = splitTcp(stream, 100);
        const rest = frames.slice(2);
        rest.forEach((f, i) => {
          if (f.header === CONN_CLOSE) {
            assert.equal(i, rest.length - 1, "CONN_CLOSE is the last frame");
            return;
          }
          assert.equal(f.header & CONTROL_MASK, 0, `frame ${i + 2}: 0x${f.header.toString(16)}`);
          assert.ok(f.header > 0 && f.header <= MAX_FRAME_BODY, `length ${f.header}`);
          if (i < rest.length - 1) assert.ok(f.complete, "only the last frame may be cut by the prefix");
        });
        // The frames account for the whole prefix, with at most a lone header byte left.
        const used = frames.reduce((n, f) => n + HEADER_SIZE + f.body.length, 0);
        assert.ok(stream.length - used <= 1, `${stream.length - used} bytes left over`);
      }
    });
  }
});

describe("UDP frames of udp-plain.json", () => {
  const v = loadVector("udp-plain.json");
  const payloads = v.udp_payloads ?? [];
  const { requests, replies } = pings(v);

  it("hold one frame per datagram whose length matches the datagram", () => {
    assert.ok(payloads.length > 0);
    for (const p of payloads) {
      const bytes = fromHex(p.hex);
      assert.equal(bytes.length, p.len);
      const header = readHeader(bytes, 0);
      assert.equal(bytes.length, HEADER_SIZE + bodyLength(header), p.hex.slice(0, 8));
    }
  });

  for (const [dir, packets] of [
    ["c2s", requests],
    ["s2c", replies],
  ] as const) {
    it(`${dir}: ECHO_REQ, ECHO_REP, the pings, then CONN_CLOSE`, () => {
      const frames = payloads.filter((p) => p.dir === dir).map((p) => fromHex(p.hex));
      const headers = frames.map((f) => readHeader(f, 0));
      assert.equal(headers[0], ECHO_REQ);
      assert.equal(headers[1], ECHO_REP);
      assert.equal(headers.at(-1), CONN_CLOSE);
      const data = frames.slice(2, -1);
      assert.equal(data.length, packets.length);
      data.forEach((f, i) => {
        assert.equal(readHeader(f, 0), packets[i]!.length / 2);
        assert.equal(toHex(f.subarray(HEADER_SIZE)), packets[i]);
      });
    });
  }
});
