/**
 * Exit codes of the vtunts command, so scripts can tell failures apart.
 * README.md documents them.
 */
import type { SessionOutcome } from "./daemon/session.ts";

/** Process exit codes. */
export const ExitCode = {
  /** Clean shutdown, or the peer closed the session. */
  OK: 0,
  /** Bad command line or configuration. */
  USAGE: 1,
  /** Could not reach the server, or it does not speak vtun (or needs features we lack). */
  CONNECT: 2,
  /** The server refused the session: wrong password or unknown session name. */
  DENIED: 3,
  /** A local failure: no TUN device (not root?), address in use, … */
  LOCAL: 4,
  /** The link was lost: keepalive timeout or a network error mid-session. */
  LINK_LOST: 5,
} as const;

/** The exit code a client reports for how its (last) session ended. */
export function exitCodeFor(outcome: SessionOutcome | null): number {
  if (outcome === null) return ExitCode.OK;
  switch (outcome.kind) {
    case "denied":
      return ExitCode.DENIED;
    case "failed":
      return outcome.cause === "local" ? ExitCode.LOCAL : ExitCode.CONNECT;
    case "ended":
      return outcome.end.kind === "timeout" || outcome.end.kind === "error" ? ExitCode.LINK_LOST : ExitCode.OK;
  }
}

/** An error that ends the program with a given exit code and a one-line message. */
export class FatalError extends Error {
  constructor(message: string, readonly exitCode: number) {
    super(message);
    this.name = "FatalError";
  }
}
