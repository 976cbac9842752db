/**
 * Logging: one line per event, to stderr (foreground) or syslog (daemon),
 * with the level and the session name:
 *
 *     2026-11-25T12:00:00.000Z vtunts[812]: info [office] Session office[10.0.0.2:41234] opened
 *
 * (the time only on stderr; syslog adds its own).
 *
 * Lines are written with one synchronous write each, so lines from the main
 * thread and from session workers never interleave.
 */
import { writeSync } from "node:fs";

/** Log levels, most severe first. */
export type Level = "error" | "warn" | "info" | "debug";
const RANK: Record<Level, number> = { error: 0, warn: 1, info: 2, debug: 3 };

/** Where finished lines go. */
export type LogSink = (level: Level, line: string) => void;

/** Writes lines to stderr. */
export const stderrSink: LogSink = (_level, line) => {
  try {
    writeSync(2, `${line}\n`);
  } catch {
    // stderr closed (daemon): nothing sensible left to do with the line.
  }
};

/** A logger bound to a session name (or none). */
export class Logger {
  constructor(
    private readonly sink: LogSink = stderrSink,
    readonly level: Level = "info",
    private readonly session: string | null = null,
    private readonly withTime = true,
  ) {}

  /** A logger like this one that writes to `sink` (timestamps only on stderr). */
  withSink(sink: LogSink, withTime: boolean): Logger {
    return new Logger(sink, this.level, this.session, withTime);
  }

  /** A logger for `session` that shares this one's sink and level. */
  forSession(session: string): Logger {
    return new Logger(this.sink, this.level, session, this.withTime);
  }

  /** True if messages of `level` are written. */
  enabled(level: Level): boolean {
    return RANK[level] <= RANK[this.level];
  }

  private write(level: Level, message: string): void {
    if (!this.enabled(level)) return;
    const time = this.withTime ? `${new Date().toISOString()} ` : "";
    const session = this.session === null ? "" : ` [${this.session}]`;
    this.sink(level, `${time}vtunts[${process.pid}]: ${level}${session} ${message}`);
  }

  error(message: string): void {
    this.write("error", message);
  }
  warn(message: string): void {
    this.write("warn", message);
  }
  info(message: string): void {
    this.write("info", message);
  }
  debug(message: string): void {
    this.write("debug", message);
  }
}

/** Parses a level name (for `--log-level` / `VTUNTS_LOG`). */
export function parseLevel(text: string): Level | null {
  return Object.hasOwn(RANK, text) ? (text as Level) : null; // not `in`: "constructor" is no level
}

/** A logger that keeps its lines in memory (tests). */
export function memoryLogger(level: Level = "debug"): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger((_l, line) => lines.push(line), level, null, false), lines };
}
