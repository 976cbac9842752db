/**
 * vtund 3.0.x connection setup, both sides, over a {@link ByteStream}:
 *
 *     S->C  VTUN server ver ...          greeting
 *     C->S  HOST: <session>
 *     S->C  OK CHAL: <challenge>
 *     C->S  CHAL: <response>
 *     S->C  OK FLAGS: <flags>   or   ERR
 *
 * Each message is one 50-byte record (record.ts). The server looks the session
 * up only after the response arrives, so an unknown session and a wrong
 * password look the same on the wire.
 */
import {
  CHALLENGE_SIZE,
  challengeResponse,
  decodeChallenge,
  encodeChallenge,
  equalConstantTime,
} from "./challenge.ts";
import { formatFlags, parseFlags, type SessionFlags } from "./flags.ts";
import { decodeRecord, encodeRecord, RECORD_SIZE } from "./record.ts";
import { StreamError, type ByteStream } from "./stream.ts";

/** `n` random bytes from the runtime's CSPRNG (Web Crypto: no node:crypto needed). */
const randomBytes = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));

/** The greeting vtunts sends; vtund's client only checks that it starts with "VTUN". */
export const GREETING = "VTUN server ver 3.X vtunts\n";

/** Why a handshake failed. */
export type HandshakeFailure =
  | "denied" //     the server refused us (wrong password, unknown session, locked)
  | "protocol" //   the peer does not speak vtun
  | "unsupported" // the server asked for a session feature this build cannot do
  | "timeout" //    no complete record in time
  | "closed"; //    the peer closed the connection

/** A failed handshake, with a message fit for the log. */
export class HandshakeError extends Error {
  constructor(readonly failure: HandshakeFailure, message: string) {
    super(message);
    this.name = "HandshakeError";
  }
}

async function readLine(stream: ByteStream, timeoutMs: number, expecting: string): Promise<string> {
  try {
    return decodeRecord(await stream.readExact(RECORD_SIZE, timeoutMs));
  } catch (e) {
    if (e instanceof StreamError) {
      if (e.failure === "timeout") {
        throw new HandshakeError("timeout", `no ${expecting} within ${timeoutMs / 1000} s`);
      }
      if (e.failure === "eof") throw new HandshakeError("closed", `connection closed while waiting for ${expecting}`);
      throw new HandshakeError("closed", `${e.message} while waiting for ${expecting}`);
    }
    throw e;
  }
}

async function send(stream: ByteStream, text: string): Promise<void> {
  try {
    await stream.write(encodeRecord(text));
  } catch (e) {
    if (e instanceof StreamError) {
      throw new HandshakeError("closed", `${e.message} while sending "${text.split(/[ :]/)[0]}"`);
    }
    throw e;
  }
}

/** Splits a request line the way vtund does: on spaces and colons. */
const words = (line: string) => line.split(/[ :]+/).filter((w) => w.length > 0);

// ---------------------------------------------------------------------------
// Client

/** What the client needs to authenticate. */
export interface ClientAuth {
  /** Session name sent in `HOST:`. */
  session: string;
  password: string;
  /** Timeout for each record, in ms (vtund's global `timeout`). */
  timeoutMs: number;
}

/** Runs the client side; resolves with the session flags the server decided. */
export async function clientHandshake(stream: ByteStream, auth: ClientAuth): Promise<SessionFlags> {
  const greeting = await readLine(stream, auth.timeoutMs, "server greeting");
  if (!greeting.startsWith("VTUN")) {
    throw new HandshakeError("protocol", `not a vtun server (it said ${JSON.stringify(greeting.slice(0, 40))})`);
  }
  await send(stream, `HOST: ${auth.session}\n`);

  const chalLine = await readLine(stream, auth.timeoutMs, "challenge");
  const challenge = chalLine.startsWith("OK") ? decodeChallenge(chalLine) : null;
  if (challenge === null) {
    if (chalLine.startsWith("ERR")) throw new HandshakeError("denied", "server refused the session");
    throw new HandshakeError("protocol", `bad challenge line ${JSON.stringify(chalLine)}`);
  }
  await send(stream, `CHAL: ${encodeChallenge(challengeResponse(challenge, auth.password))}\n`);

  const reply = await readLine(stream, auth.timeoutMs, "authentication result");
  if (!reply.startsWith("OK")) {
    throw new HandshakeError("denied", "server refused the session (wrong password or unknown session name)");
  }
  const flags = parseFlags(reply);
  if (flags === null) throw new HandshakeError("protocol", `unparsable session flags ${JSON.stringify(reply)}`);
  return flags;
}

// ---------------------------------------------------------------------------
// Server

/** What the server needs to know about a session it may accept. */
export interface ServerSession {
  password: string;
  /** The flags this session runs with (decided by the server's config). */
  flags: SessionFlags;
}

/** How the server side is set up. */
export interface ServerAuth<S extends ServerSession> {
  /** Looks up a session by the name the client sent. */
  findSession(name: string): S | undefined;
  /** Timeout for each record, in ms. */
  timeoutMs: number;
  /** Random source for the challenge (tests pass a fixed one). */
  random?: (n: number) => Uint8Array;
  /**
   * Called after the password checked out, before FLAGS: may the session run
   * now? (vtund's per-session lock, `multi`.) A string refuses with that reason.
   */
  admit?(name: string, session: S): Promise<true | string>;
}

/** Outcome of the server side: the accepted session, or why it was refused. */
export type ServerHandshakeResult<S> =
  | { ok: true; name: string; session: S }
  | { ok: false; name: string | null; reason: string };

/**
 * Runs the server side. On refusal it has already sent `ERR`; the caller closes
 * the connection and logs `reason`. Stream failures (timeout, EOF) also end in
 * a refusal result, after a best-effort `ERR`.
 */
export async function serverHandshake<S extends ServerSession>(
  stream: ByteStream,
  auth: ServerAuth<S>,
): Promise<ServerHandshakeResult<S>> {
  let name: string | null = null;
  const refuse = async (reason: string): Promise<ServerHandshakeResult<S>> => {
    try {
      await send(stream, "ERR\n");
    } catch {
      // The peer may already be gone; the refusal stands either way.
    }
    return { ok: false, name, reason };
  };
  try {
    await send(stream, GREETING);

    const hostWords = words(await readLine(stream, auth.timeoutMs, "HOST request"));
    if (hostWords[0] !== "HOST" || hostWords[1] === undefined) {
      return await refuse(`expected "HOST: <session>", got ${JSON.stringify(hostWords.join(" ").slice(0, 40))}`);
    }
    name = hostWords[1];

    const challenge = (auth.random ?? randomBytes)(CHALLENGE_SIZE);
    await send(stream, `OK CHAL: ${encodeChallenge(challenge)}\n`);

    const chalLine = await readLine(stream, auth.timeoutMs, "challenge response");
    const response = words(chalLine)[0] === "CHAL" ? decodeChallenge(chalLine) : null;
    if (response === null) return await refuse("malformed challenge response");

    const session = auth.findSession(name);
    if (session === undefined) return await refuse(`unknown session "${name}"`);
    if (!equalConstantTime(response, challengeResponse(challenge, session.password))) {
      return await refuse("wrong password");
    }
    const admitted = auth.admit ? await auth.admit(name, session) : true;
    if (admitted !== true) return await refuse(admitted);
    await send(stream, `OK FLAGS: ${formatFlags(session.flags)}\n`);
    return { ok: true, name, session };
  } catch (e) {
    if (e instanceof HandshakeError) return await refuse(e.message);
    throw e;
  }
}
