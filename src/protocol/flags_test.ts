/**
 * The FLAGS string: the `OK FLAGS` record of every successful capture parses
 * to what the real server's config says (proto, type, cipher, compression,
 * keepalive) and formats back to the exact captured text; the spec's examples
 * (vtun-protocol.md §1.5) round-trip; and the client's parsing rules: unknown
 * characters, a missing `>` or a number-less C/L/S fail, bare `E` is the
 * legacy cipher, `S0` is no shaping, `F` is ignored.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { formatFlags, LEGACY_CIPHER, parseFlags, type SessionFlags, type SessionType } from "./flags.ts";
import { decodeRecord } from "./record.ts";
import { allVectors, handshakeRecords, serverSessionSettings, type Vector } from "../../test/vectors/vectors.ts";

/** Cipher numbers after `E`, in order (vtun-protocol.md §6.1). */
const CIPHER_NAMES = [
  "blowfish128ecb", "blowfish128cbc", "blowfish128cfb", "blowfish128ofb",
  "blowfish256ecb", "blowfish256cbc", "blowfish256cfb", "blowfish256ofb",
  "aes128ecb", "aes128cbc", "aes128cfb", "aes128ofb",
  "aes256ecb", "aes256cbc", "aes256cfb", "aes256ofb",
];

const flags = (f: Partial<SessionFlags>): SessionFlags => ({
  proto: "tcp",
  type: "tty",
  speed: null,
  compress: null,
  keepalive: false,
  encrypt: null,
  ...f,
});

/** The flags the server's vtund.conf asks for, read without any vtunts code. */
function flagsFromServerConf(v: Vector): SessionFlags {
  const s = serverSessionSettings(v);
  const encrypt = s.get("encrypt");
  const compress = s.get("compress");
  const proto = s.get("proto");
  const type = s.get("type");
  assert.ok(proto === "tcp" || proto === "udp", `proto ${proto}`);
  assert.ok(type === "tun" || type === "ether" || type === "pipe" || type === "tty", `type ${type}`);
  assert.ok(s.get("keepalive") === "yes" || s.get("keepalive") === "no", `keepalive ${s.get("keepalive")}`);
  let cipher: number | null = null;
  if (encrypt === "yes") cipher = 1;
  else if (encrypt !== undefined && encrypt !== "no") {
    cipher = CIPHER_NAMES.indexOf(encrypt) + 1;
    assert.ok(cipher > 0, `cipher ${encrypt}`);
  }
  let comp: SessionFlags["compress"] = null;
  const m = /^(zlib|lzo):(\d+)$/.exec(compress ?? "");
  if (m) comp = { method: m[1] === "zlib" ? "zlib" : "lzo", level: Number(m[2]) };
  else assert.ok(compress === undefined || compress === "no", `compress ${compress}`);
  return flags({ proto, type: type as SessionType, keepalive: s.get("keepalive") === "yes", encrypt: cipher, compress: comp });
}

describe("FLAGS of the captures", () => {
  const vectors = allVectors().filter((v) => {
    const r = handshakeRecords(v);
    return r !== null && decodeRecord(r.s2c[2]).startsWith("OK FLAGS:");
  });

  it("covers every successful capture (all but wrong-password and unknown-host)", () => {
    assert.ok(vectors.length >= 20, `only ${vectors.length} captures`);
    assert.ok(vectors.every((v) => v.case !== "wrong-password" && v.case !== "unknown-host"));
  });

  for (const v of vectors) {
    const line = decodeRecord(handshakeRecords(v)!.s2c[2]);
    it(`${v.file}: "${line}" is what the server's config says, and formats back exactly`, () => {
      const parsed = parseFlags(line);
      assert.deepEqual(parsed, flagsFromServerConf(v));
      assert.equal(`OK FLAGS: ${formatFlags(parsed!)}`, line);
    });
  }

  it("include the values the README lists", () => {
    const seen = new Set(vectors.map((v) => decodeRecord(handshakeRecords(v)!.s2c[2]).slice("OK FLAGS: ".length)));
    for (const f of ["<Tu>", "<Uu>", "<TuE1>", "<TuE2>", "<TuE9>", "<TuE10>", "<UuE10>", "<TuE16>", "<TuC9>", "<TuL9>"]) {
      assert.ok(seen.has(f), f);
    }
  });
});

describe("parseFlags / formatFlags", () => {
  const examples: [string, SessionFlags][] = [
    ["<TuK>", flags({ type: "tun", keepalive: true })],
    ["<UeC9KE1>", flags({ proto: "udp", type: "ether", compress: { method: "zlib", level: 9 }, keepalive: true, encrypt: 1 })],
    ["<TtS64C1>", flags({ type: "tty", speed: 64, compress: { method: "zlib", level: 1 } })],
    ["<TuE14>", flags({ type: "tun", encrypt: 14 })],
    ["<TuS64C9KE14>", flags({ type: "tun", speed: 64, compress: { method: "zlib", level: 9 }, keepalive: true, encrypt: 14 })],
    ["<TpL2>", flags({ type: "pipe", compress: { method: "lzo", level: 2 } })],
    ["<TuE>", flags({ type: "tun", encrypt: LEGACY_CIPHER })],
  ];
  for (const [text, expected] of examples) {
    it(`${text} parses and formats back`, () => {
      assert.deepEqual(parseFlags(`OK FLAGS: ${text}`), expected);
      assert.equal(formatFlags(expected), text);
    });
  }

  it("emits the items in vtund's order whatever order they were parsed in", () => {
    assert.equal(formatFlags(parseFlags("<E14KC9S64uT>")!), "<TuS64C9KE14>");
  });

  it("fails on an unknown character", () => {
    assert.equal(parseFlags("<TuX>"), null);
    assert.equal(parseFlags("<Tu >"), null);
    assert.equal(parseFlags("<TuA>"), null);
  });

  it("fails without the closing '>' or without '<'", () => {
    assert.equal(parseFlags("<Tu"), null);
    assert.equal(parseFlags("OK FLAGS: <TuE1"), null);
    assert.equal(parseFlags("OK FLAGS: Tu>"), null);
    assert.equal(parseFlags(""), null);
  });

  it("fails when C, L or S has no number", () => {
    assert.equal(parseFlags("<TuC>"), null);
    assert.equal(parseFlags("<TuCK>"), null);
    assert.equal(parseFlags("<TuL>"), null);
    assert.equal(parseFlags("<TuS>"), null);
    assert.equal(parseFlags("<TuSK>"), null);
  });

  it("takes a bare E or E0 as the legacy vtun 2.x cipher (999)", () => {
    assert.equal(parseFlags("<TuE>")?.encrypt, 999);
    assert.equal(parseFlags("<TuEK>")?.encrypt, 999);
    assert.equal(parseFlags("<TuE0>")?.encrypt, 999);
    assert.equal(parseFlags("<TuE5>")?.encrypt, 5);
  });

  it("takes S0 as no shaping", () => {
    assert.equal(parseFlags("<TuS0>")?.speed, null);
    assert.equal(parseFlags("<TuS0K>")?.keepalive, true);
    assert.equal(parseFlags("<TuS128>")?.speed, 128);
  });

  it("ignores F", () => {
    assert.deepEqual(parseFlags("<TuFK>"), parseFlags("<TuK>"));
    assert.deepEqual(parseFlags("<FTu>"), flags({ type: "tun" }));
  });

  it("ignores what follows '>' and what precedes '<'", () => {
    assert.deepEqual(parseFlags("OK FLAGS: <Uu>junk\n"), flags({ proto: "udp", type: "tun" }));
  });

  it("lets a later T or U replace the protocol", () => {
    assert.equal(parseFlags("<UTu>")?.proto, "tcp");
    assert.equal(parseFlags("<TUu>")?.proto, "udp");
  });

  it("defaults to tcp, no extras", () => {
    assert.deepEqual(parseFlags("<>"), flags({}));
  });
});
