/**
 * 50-byte handshake records: every handshake record of every capture from the
 * real vtund 3.0.4 decodes to the expected line and re-encodes to the exact
 * captured bytes; plus the padding, line-end and length rules of record.ts.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { decodeRecord, encodeRecord, RECORD_SIZE } from "./record.ts";
import { allVectors, handshakeRecords } from "../../test/vectors/vectors.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

describe("handshake records of the captures", () => {
  const vectors = allVectors().filter((v) => handshakeRecords(v) !== null);

  it("covers every capture file that has a handshake", () => {
    // 15 top-level files, 5 in pad-full-block/, 2 in sighup/ when this was written.
    assert.ok(vectors.length >= 22, `only ${vectors.length} captures`);
    const files = vectors.map((v) => v.file);
    const expected = ["tcp-plain.json", "udp-plain.json", "wrong-password.json", "unknown-host.json"];
    expected.push("pad-full-block/udp-bf128ecb.json", "sighup/tcp-plain.json");
    for (const f of expected) {
      assert.ok(files.includes(f), f);
    }
  });

  for (const v of vectors) {
    describe(v.file, () => {
      const r = handshakeRecords(v)!;
      const denied = v.case === "wrong-password" || v.case === "unknown-host";

      it("decodes to the lines of the handshake", () => {
        assert.equal(decodeRecord(r.s2c[0]), "VTUN server ver 3.X 05/14/2022");
        assert.equal(decodeRecord(r.c2s[0]), `HOST: ${v.client_host}`);
        assert.match(decodeRecord(r.s2c[1]), /^OK CHAL: <[a-p]{32}>$/);
        assert.match(decodeRecord(r.c2s[1]), /^CHAL: <[a-p]{32}>$/);
        if (denied) assert.equal(decodeRecord(r.s2c[2]), "ERR");
        else assert.match(decodeRecord(r.s2c[2]), /^OK FLAGS: <[A-Za-z0-9]+>$/);
      });

      it("re-encodes each record to the exact 50 captured bytes", () => {
        for (const record of [...r.s2c, ...r.c2s]) {
          assert.equal(record.length, RECORD_SIZE);
          assert.deepEqual(encodeRecord(`${decodeRecord(record)}\n`), record);
        }
      });
    });
  }
});

describe("encodeRecord", () => {
  it("pads the text with NULs to 50 bytes", () => {
    const r = encodeRecord("ERR\n");
    assert.equal(r.length, 50);
    assert.deepEqual(r.subarray(0, 4), ascii("ERR\n"));
    assert.ok(r.subarray(4).every((b) => b === 0));
  });

  it("takes up to 49 bytes of text (the last byte stays NUL) and refuses 50", () => {
    const r = encodeRecord(`${"x".repeat(48)}\n`);
    assert.equal(r[48], 0x0a);
    assert.equal(r[49], 0);
    assert.throws(() => encodeRecord(`${"x".repeat(49)}\n`), RangeError);
  });

  it("counts UTF-8 bytes, not characters", () => {
    assert.throws(() => encodeRecord(`${"é".repeat(25)}\n`), RangeError); // 50 bytes
    assert.equal(encodeRecord(`${"é".repeat(24)}\n`)[48], 0x0a); // 49 bytes
  });
});

describe("decodeRecord", () => {
  const record = (bytes: Uint8Array) => {
    const r = new Uint8Array(RECORD_SIZE);
    r.set(bytes.subarray(0, RECORD_SIZE));
    return r;
  };

  it("stops at the first NUL, CR or LF", () => {
    assert.equal(decodeRecord(record(ascii("HOST: a\n"))), "HOST: a");
    assert.equal(decodeRecord(record(ascii("HOST: a\r\nzzz"))), "HOST: a");
    assert.equal(decodeRecord(record(ascii("HOST: b\0zzz\n"))), "HOST: b");
    assert.equal(decodeRecord(new Uint8Array(RECORD_SIZE)), "");
  });

  it("ignores byte 49, as vtund forces it to NUL", () => {
    assert.equal(decodeRecord(ascii("y".repeat(RECORD_SIZE))), "y".repeat(49));
  });

  it("keeps bytes above 0x7f, one character each", () => {
    assert.equal(decodeRecord(record(new Uint8Array([0x41, 0xe9, 0xff, 0x0a]))), "A\u00e9\u00ff");
  });
});
