/**
 * Exit codes: exitCodeFor maps every session outcome to the documented code
 * (0 ok, 2 connect, 3 denied, 4 local, 5 link lost), and FatalError keeps its code.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ExitCode, exitCodeFor, FatalError } from "./errors.ts";
import type { SessionOutcome } from "./daemon/session.ts";
import type { LinkEnd } from "./link/link.ts";

const ended = (end: LinkEnd): SessionOutcome => ({ kind: "ended", session: "office", end, summary: "" });
const failed = (cause: "network" | "protocol" | "unsupported" | "local"): SessionOutcome => ({
  kind: "failed",
  session: "office",
  cause,
  message: "x",
});

describe("ExitCode", () => {
  it("has the documented values", () => {
    assert.deepEqual({ ...ExitCode }, { OK: 0, USAGE: 1, CONNECT: 2, DENIED: 3, LOCAL: 4, LINK_LOST: 5 });
  });
});

describe("exitCodeFor", () => {
  it("no session at all → 0", () => {
    assert.equal(exitCodeFor(null), 0);
  });

  it("denied → 3", () => {
    assert.equal(exitCodeFor({ kind: "denied", session: "office", message: "ERR" }), 3);
    assert.equal(exitCodeFor({ kind: "denied", session: null, message: "ERR" }), 3);
  });

  it("failed: local → 4, network/protocol/unsupported → 2", () => {
    assert.equal(exitCodeFor(failed("local")), 4);
    assert.equal(exitCodeFor(failed("network")), 2);
    assert.equal(exitCodeFor(failed("protocol")), 2);
    assert.equal(exitCodeFor(failed("unsupported")), 2);
  });

  it("ended: keepalive timeout or error → 5", () => {
    assert.equal(exitCodeFor(ended({ kind: "timeout" })), 5);
    assert.equal(exitCodeFor(ended({ kind: "error", message: "EIO" })), 5);
  });

  it("ended: closed by the peer, EOF or stopped → 0", () => {
    assert.equal(exitCodeFor(ended({ kind: "closed-by-peer" })), 0);
    assert.equal(exitCodeFor(ended({ kind: "eof" })), 0);
    assert.equal(exitCodeFor(ended({ kind: "stopped", why: "SIGTERM" })), 0);
  });
});

describe("FatalError", () => {
  it("carries its message and exit code", () => {
    const e = new FatalError("no TUN device", ExitCode.LOCAL);
    assert.ok(e instanceof Error);
    assert.equal(e.name, "FatalError");
    assert.equal(e.message, "no TUN device");
    assert.equal(e.exitCode, 4);
  });
});
