/**
 * The connection setup, both sides:
 * - replays of every capture from the real vtund 3.0.4: the vtunts client,
 *   fed the real server's records, writes exactly what the real client wrote
 *   (and is refused where it was); the vtunts server, fed the real client's
 *   records and the captured challenge, answers exactly what the real server
 *   answered after its greeting (OK CHAL, then OK FLAGS or ERR);
 * - vtunts client against vtunts server over an in-memory connection: success,
 *   wrong password, unknown session;
 * - failures: a peer that is not vtun, a peer that closes, timeouts, malformed
 *   records, and how the server splits the HOST line.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { challengeResponse, decodeChallenge, encodeChallenge } from "./challenge.ts";
import { parseFlags, type SessionFlags } from "./flags.ts";
import {
  clientHandshake,
  GREETING,
  HandshakeError,
  serverHandshake,
  type HandshakeFailure,
  type ServerHandshakeResult,
  type ServerSession,
} from "./handshake.ts";
import { decodeRecord, encodeRecord } from "./record.ts";
import { memoryStreamPair, scriptedStream, type MemoryStream } from "../../test/fakes/memory_stream.ts";
import { allVectors, handshakeRecords } from "../../test/vectors/vectors.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const record = (text: string) => encodeRecord(text);

const TCP_TUN: SessionFlags = { proto: "tcp", type: "tun", speed: null, compress: null, keepalive: false, encrypt: null };
const UDP_FANCY: SessionFlags = {
  proto: "udp",
  type: "ether",
  speed: 64,
  compress: { method: "zlib", level: 9 },
  keepalive: true,
  encrypt: 14,
};

/** Asserts that `p` rejects with a HandshakeError of kind `failure`, and returns it. */
async function handshakeFailure(p: Promise<unknown>, failure: HandshakeFailure): Promise<HandshakeError> {
  let error: unknown = null;
  try {
    await p;
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof HandshakeError, `expected a HandshakeError, got ${String(error)}`);
  assert.equal(error.failure, failure, error.message);
  return error;
}

/** Asserts a server refusal and returns its reason. */
function refusal<S>(result: ServerHandshakeResult<S>): string {
  assert.equal(result.ok, false);
  if (result.ok) throw new Error("unreachable");
  return result.reason;
}

/** The records a stream end wrote, decoded (each write must be one 50-byte record). */
function writtenLines(writes: readonly Uint8Array[]): string[] {
  for (const w of writes) assert.equal(w.length, 50, "each handshake write is one 50-byte record");
  return writes.map(decodeRecord);
}

describe("replaying the captures", () => {
  const vectors = allVectors().filter((v) => handshakeRecords(v) !== null);

  // record_test.ts checks that this covers every capture file with a handshake.
  for (const v of vectors) {
    describe(v.file, () => {
      const r = handshakeRecords(v)!;
      const resultLine = decodeRecord(r.s2c[2]);
      const denied = resultLine === "ERR";

      it(`client: writes the real client's records byte for byte and ${denied ? "is denied" : "gets the flags"}`, async () => {
        const stream = scriptedStream(r.s2c);
        const auth = { session: v.client_host, password: v.client_passwd, timeoutMs: 1000 };
        if (denied) {
          await handshakeFailure(clientHandshake(stream, auth), "denied");
        } else {
          assert.deepEqual(await clientHandshake(stream, auth), parseFlags(resultLine));
        }
        assert.equal(stream.writes.length, 2);
        assert.deepEqual(stream.writes[0], r.c2s[0]);
        assert.deepEqual(stream.writes[1], r.c2s[1]);
        // It read the three records and nothing more (the data frames stay for the link).
        assert.equal(stream.remaining(), 0);
      });

      it(`server: after its greeting, answers the real server's records byte for byte`, async () => {
        const challenge = decodeChallenge(decodeRecord(r.s2c[1]));
        assert.ok(challenge !== null);
        const flags = denied ? TCP_TUN : parseFlags(resultLine);
        assert.ok(flags !== null);
        const session: ServerSession = { password: v.server_passwd, flags };
        const asked: string[] = [];
        const randomSizes: number[] = [];
        const stream = scriptedStream(r.c2s);
        const result = await serverHandshake(stream, {
          timeoutMs: 1000,
          findSession: (name) => {
            asked.push(name);
            return name === v.host ? session : undefined;
          },
          random: (n) => {
            randomSizes.push(n);
            return challenge;
          },
        });
        assert.deepEqual(randomSizes, [16]);
        assert.equal(stream.writes.length, 3);
        assert.deepEqual(stream.writes[0], record(GREETING));
        assert.ok(decodeRecord(stream.writes[0]!).startsWith("VTUN"), "a real vtund client only accepts VTUN...");
        assert.deepEqual(stream.writes[1], r.s2c[1]);
        assert.deepEqual(stream.writes[2], r.s2c[2]);
        assert.deepEqual(asked, [v.client_host]);
        if (v.case === "wrong-password") {
          assert.equal(refusal(result), "wrong password");
          assert.equal(result.name, v.client_host);
        } else if (v.case === "unknown-host") {
          assert.match(refusal(result), /unknown/);
          assert.equal(result.name, "nosuchhost");
        } else {
          assert.ok(result.ok);
          assert.equal(result.name, v.host);
          assert.equal(result.session, session);
        }
      });
    });
  }
});

describe("vtunts client against vtunts server", () => {
  const run = async (clientPassword: string, clientSession: string, timeoutMs = 2000) => {
    const [c, s] = memoryStreamPair();
    const sessions = new Map<string, ServerSession>([["work", { password: "s3cret", flags: UDP_FANCY }]]);
    const server = serverHandshake(s, { timeoutMs, findSession: (name) => sessions.get(name) });
    const client = clientHandshake(c, { session: clientSession, password: clientPassword, timeoutMs });
    const [clientResult, serverResult] = await Promise.allSettled([client, server]);
    return { clientResult, serverResult, c, s, session: sessions.get("work")! };
  };

  it("agree on the server's flags with the right password", async () => {
    const { clientResult, serverResult, c, s, session } = await run("s3cret", "work");
    assert.equal(clientResult.status, "fulfilled");
    assert.deepEqual(clientResult.value, UDP_FANCY);
    assert.equal(serverResult.status, "fulfilled");
    assert.deepEqual(serverResult.value, { ok: true, name: "work", session });
    const serverLines = writtenLines(s.writes);
    assert.equal(serverLines[0], GREETING.trimEnd());
    assert.match(serverLines[1]!, /^OK CHAL: <[a-p]{32}>$/);
    assert.equal(serverLines[2], "OK FLAGS: <UeS64C9KE14>");
    const clientLines = writtenLines(c.writes);
    assert.equal(clientLines[0], "HOST: work");
    assert.match(clientLines[1]!, /^CHAL: <[a-p]{32}>$/);
  });

  it("uses a fresh random challenge each time", async () => {
    const a = await run("s3cret", "work");
    const b = await run("s3cret", "work");
    assert.notEqual(decodeRecord(a.s.writes[1]!), decodeRecord(b.s.writes[1]!));
  });

  it("refuse a wrong password: client 'denied', server 'wrong password' after sending ERR", async () => {
    const { clientResult, serverResult, s } = await run("guess", "work");
    assert.equal(clientResult.status, "rejected");
    await handshakeFailure(Promise.reject(clientResult.reason), "denied");
    assert.equal(serverResult.status, "fulfilled");
    assert.equal(refusal(serverResult.value), "wrong password");
    assert.equal(serverResult.value.name, "work");
    assert.equal(writtenLines(s.writes).at(-1), "ERR");
  });

  it("refuse an unknown session the same way on the wire", async () => {
    const { clientResult, serverResult, s } = await run("s3cret", "play");
    assert.equal(clientResult.status, "rejected");
    await handshakeFailure(Promise.reject(clientResult.reason), "denied");
    assert.equal(serverResult.status, "fulfilled");
    assert.match(refusal(serverResult.value), /unknown/);
    assert.equal(serverResult.value.name, "play");
    // Still a challenge first, then ERR: indistinguishable from a wrong password.
    const lines = writtenLines(s.writes);
    assert.match(lines[1]!, /^OK CHAL: /);
    assert.equal(lines[2], "ERR");
  });
});

describe("client failures", () => {
  const auth = { session: "work", password: "s3cret", timeoutMs: 2000 };

  it("refuses a greeting that does not start with VTUN ('protocol'), before sending anything", async () => {
    for (const greeting of ["SSH-2.0-OpenSSH_9.2p1\n", "vtun server ver 3.X\n", "\n"]) {
      const stream = scriptedStream([record(greeting)]);
      await handshakeFailure(clientHandshake(stream, auth), "protocol");
      assert.equal(stream.writes.length, 0);
    }
  });

  it("accepts any greeting that starts with VTUN", async () => {
    const challenge = new Uint8Array(16).fill(7);
    const stream = scriptedStream([
      record("VTUNxyz\n"),
      record(`OK CHAL: ${encodeChallenge(challenge)}\n`),
      record("OK FLAGS: <Tu>\n"),
    ]);
    assert.deepEqual(await clientHandshake(stream, auth), TCP_TUN);
  });

  it("takes ERR instead of a challenge as 'denied'", async () => {
    const stream = scriptedStream([record("VTUN server ver 3.X\n"), record("ERR\n")]);
    await handshakeFailure(clientHandshake(stream, auth), "denied");
  });

  it("refuses a malformed challenge ('protocol')", async () => {
    for (const line of ["OK CHAL: <abc>\n", "OK CHAL: nothing\n", "HELLO\n"]) {
      const stream = scriptedStream([record("VTUN server ver 3.X\n"), record(line)]);
      await handshakeFailure(clientHandshake(stream, auth), "protocol");
    }
  });

  it("refuses unparsable flags ('protocol')", async () => {
    const stream = scriptedStream([
      record("VTUN server ver 3.X\n"),
      record(`OK CHAL: ${encodeChallenge(new Uint8Array(16))}\n`),
      record("OK FLAGS: <TuX>\n"),
    ]);
    await handshakeFailure(clientHandshake(stream, auth), "protocol");
  });

  it("reports 'closed' when the server closes mid-handshake", async () => {
    const [c, s] = memoryStreamPair();
    const fakeServer = (async () => {
      await s.write(record("VTUN server ver 3.X\n"));
      assert.equal(decodeRecord(await s.readExact(50, 2000)), "HOST: work");
      s.close();
    })();
    await handshakeFailure(clientHandshake(c, auth), "closed");
    await fakeServer;
  });

  it("reports 'closed' when the connection ends inside a record", async () => {
    const stream = scriptedStream([record("VTUN server ver 3.X\n"), ascii("OK CHAL: <")]);
    await handshakeFailure(clientHandshake(stream, auth), "closed");
  });

  it("reports 'timeout' when the server says nothing", async () => {
    const [c] = memoryStreamPair();
    const started = Date.now();
    await handshakeFailure(clientHandshake(c, { ...auth, timeoutMs: 40 }), "timeout");
    assert.ok(Date.now() - started >= 30, "waited about the timeout");
  });

  it("reports 'timeout' when the server stops after the greeting", async () => {
    const [c, s] = memoryStreamPair();
    await s.write(record("VTUN server ver 3.X\n"));
    await handshakeFailure(clientHandshake(c, { ...auth, timeoutMs: 40 }), "timeout");
    assert.equal(decodeRecord(s.writes[0]!), "VTUN server ver 3.X");
  });

  it("reads records however TCP cuts them", async () => {
    const challenge = new Uint8Array(16).fill(0x42);
    const all = new Uint8Array([
      ...record("VTUN server ver 3.X\n"),
      ...record(`OK CHAL: ${encodeChallenge(challenge)}\n`),
      ...record("OK FLAGS: <TuK>\n"),
    ]);
    for (const chunk of [1, 7, 49, 50, 51, 150]) {
      const [c, s] = memoryStreamPair();
      for (let at = 0; at < all.length; at += chunk) await s.write(all.subarray(at, at + chunk));
      const flags = await clientHandshake(c, auth);
      assert.deepEqual(flags, { ...TCP_TUN, keepalive: true }, `chunks of ${chunk}`);
    }
  });
});

describe("server failures", () => {
  const sessions = new Map<string, ServerSession>([["work", { password: "s3cret", flags: TCP_TUN }]]);
  const serverAuth = (timeoutMs = 2000) => ({
    timeoutMs,
    findSession: (name: string) => sessions.get(name),
    random: () => new Uint8Array(16).fill(1),
  });
  const linesOf = (s: MemoryStream) => writtenLines(s.writes);

  it("sends ERR and gives up when the client says nothing in time", async () => {
    const [, s] = memoryStreamPair();
    const result = await serverHandshake(s, serverAuth(40));
    assert.match(refusal(result), /HOST/);
    assert.equal(result.name, null);
    assert.deepEqual(linesOf(s), [GREETING.trimEnd(), "ERR"]);
  });

  it("gives up when the client closes after HOST", async () => {
    const [c, s] = memoryStreamPair();
    const server = serverHandshake(s, serverAuth());
    await c.readExact(50, 1000);
    await c.write(record("HOST: work\n"));
    await c.readExact(50, 1000);
    c.close();
    const result = await server;
    assert.match(refusal(result), /closed/);
    assert.equal(result.name, "work");
  });

  it("refuses a first request that is not HOST", async () => {
    const stream = scriptedStream([record("CHAL: <aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa>\n")]);
    const result = await serverHandshake(stream, serverAuth());
    refusal(result);
    assert.equal(result.name, null);
    assert.deepEqual(writtenLines(stream.writes), [GREETING.trimEnd(), "ERR"]);
  });

  it("refuses HOST without a name", async () => {
    const stream = scriptedStream([record("HOST:\n")]);
    refusal(await serverHandshake(stream, serverAuth()));
    assert.equal(writtenLines(stream.writes).at(-1), "ERR");
  });

  it("refuses a malformed response", async () => {
    for (const line of ["CHAL: <abc>\n", "HOST: work\n", "CHAL: nothing\n"]) {
      const stream = scriptedStream([record("HOST: work\n"), record(line)]);
      const result = await serverHandshake(stream, serverAuth());
      assert.match(refusal(result), /malformed/);
      assert.deepEqual(writtenLines(stream.writes).slice(2), ["ERR"]);
    }
  });

  it("splits the HOST line on spaces and colons, as vtund does", async () => {
    for (const line of ["HOST: work\n", "HOST:work\n", "HOST  work\n", "HOST: work\r\n", "HOST:: work extra\n"]) {
      const [c, s] = memoryStreamPair();
      const server = serverHandshake(s, serverAuth());
      await c.readExact(50, 1000);
      await c.write(record(line));
      const chal = decodeChallenge(decodeRecord(await c.readExact(50, 1000)))!;
      await c.write(record(`CHAL: ${encodeChallenge(challengeResponse(chal, "s3cret"))}\n`));
      const result = await server;
      assert.ok(result.ok, JSON.stringify(line));
      assert.equal(result.name, "work");
    }
  });
});
