/**
 * The challenge/response: for every capture from the real vtund 3.0.4, the
 * challenge text decodes and re-encodes exactly, and the response computed
 * from the server's challenge and the client's password equals the one the
 * real client sent (and, for wrong-password, differs from what the server's
 * password gives). Also the letter encoding and decodeChallenge's refusals.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Blowfish } from "../crypto/blowfish.ts";
import { md5 } from "../crypto/md5.ts";
import { CHALLENGE_SIZE, challengeResponse, decodeChallenge, encodeChallenge, equalConstantTime } from "./challenge.ts";
import { decodeRecord } from "./record.ts";
import { allVectors, fromHex, handshakeRecords } from "../../test/vectors/vectors.ts";

/** The `<...>` part of a line. */
const bracketed = (line: string) => /<[^>]*>/.exec(line)?.[0] ?? "";

describe("challenges of the captures", () => {
  const vectors = allVectors().filter((v) => handshakeRecords(v) !== null);
  assert.ok(vectors.length > 0);

  for (const v of vectors) {
    describe(v.file, () => {
      const r = handshakeRecords(v)!;
      const serverLine = decodeRecord(r.s2c[1]);
      const clientLine = decodeRecord(r.c2s[1]);

      it("decodes the challenge and the response, and encodes them back to the same text", () => {
        for (const line of [serverLine, clientLine]) {
          const bytes = decodeChallenge(line);
          assert.ok(bytes !== null, line);
          assert.equal(bytes.length, CHALLENGE_SIZE);
          assert.equal(encodeChallenge(bytes), bracketed(line));
        }
      });

      it("computes the response the real client sent (Blowfish-ECB under MD5(client_passwd))", () => {
        const challenge = decodeChallenge(serverLine)!;
        assert.deepEqual(challengeResponse(challenge, v.client_passwd), decodeChallenge(clientLine));
      });

      if (v.client_passwd === v.server_passwd) {
        it("lets the server recover its challenge by decrypting the response", () => {
          const response = decodeChallenge(clientLine)!;
          assert.deepEqual(new Blowfish(md5(v.server_passwd)).decryptEcb(response), decodeChallenge(serverLine));
        });
      } else {
        it("gives a different response for the server's password", () => {
          const challenge = decodeChallenge(serverLine)!;
          const sent = decodeChallenge(clientLine)!;
          assert.equal(equalConstantTime(challengeResponse(challenge, v.server_passwd), sent), false);
        });
      }
    });
  }

  it("include a wrong-password capture (so the mismatch case above is exercised)", () => {
    assert.ok(vectors.some((v) => v.client_passwd !== v.server_passwd));
  });
});

describe("encodeChallenge", () => {
  it("writes each byte as two letters a..p, high nibble first", () => {
    assert.equal(encodeChallenge(new Uint8Array([0x00, 0x01, 0x10, 0xff, 0xa5])), "<aaabbappkf>");
    assert.equal(encodeChallenge(new Uint8Array(0)), "<>");
  });

  it("makes 34 characters of 16 bytes", () => {
    assert.equal(encodeChallenge(new Uint8Array(16).fill(0x5a)), `<${"fk".repeat(16)}>`);
  });
});

describe("decodeChallenge", () => {
  const text = "abcdefghijklmnopponmlkjihgfedcba";
  const bytes = fromHex("0123456789abcdeffedcba9876543210");

  it("reads the first <...> of a line", () => {
    assert.deepEqual(decodeChallenge(`OK CHAL: <${text}>`), bytes);
    assert.deepEqual(decodeChallenge(`CHAL: <${text}> trailing <aaaa>`), bytes);
  });

  it("refuses a missing bracket, a wrong length, or letters outside a..p", () => {
    assert.equal(decodeChallenge(`OK CHAL: ${text}`), null);
    assert.equal(decodeChallenge(`OK CHAL: <${text}`), null);
    assert.equal(decodeChallenge(`OK CHAL: <${text.slice(2)}>`), null);
    assert.equal(decodeChallenge(`OK CHAL: <${text}aa>`), null);
    assert.equal(decodeChallenge(`OK CHAL: <${text.slice(0, 31)}q>`), null);
    assert.equal(decodeChallenge(`OK CHAL: <${text.slice(0, 31)}A>`), null);
    assert.equal(decodeChallenge("ERR"), null);
  });
});

describe("challengeResponse", () => {
  it("encrypts the two 8-byte halves independently", () => {
    const half = fromHex("0011223344556677");
    const challenge = new Uint8Array(16);
    challenge.set(half, 0);
    challenge.set(half, 8);
    const out = challengeResponse(challenge, "secret");
    assert.deepEqual(out.subarray(0, 8), out.subarray(8, 16));
    assert.notDeepEqual(out.subarray(0, 8), half);
  });

  it("depends on the password", () => {
    const challenge = fromHex("000102030405060708090a0b0c0d0e0f");
    assert.notDeepEqual(challengeResponse(challenge, "a"), challengeResponse(challenge, "b"));
    // The empty password is allowed (vtund keys with MD5("")).
    assert.equal(challengeResponse(challenge, "").length, 16);
  });
});

describe("equalConstantTime", () => {
  it("compares contents and lengths", () => {
    assert.equal(equalConstantTime(fromHex("0102"), fromHex("0102")), true);
    assert.equal(equalConstantTime(fromHex("0102"), fromHex("0103")), false);
    assert.equal(equalConstantTime(fromHex("0102"), fromHex("010200")), false);
    assert.equal(equalConstantTime(new Uint8Array(0), new Uint8Array(0)), true);
  });
});
