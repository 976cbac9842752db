/**
 * Gives back the pages of program code that the daemon mapped once and does
 * not use any more.
 *
 * A JavaScript runtime is a large executable (Bun's is about 100 MB), and its
 * start touches a good third of it: module loading, the parser, the
 * interpreter, then the optimizing compilers while the data path warms up.
 * Linux leaves every page the process touched mapped, so they all count in
 * its resident set (RSS: `ps`, `top`, a router's memory page) although the
 * steady state runs in a few MiB of them. `madvise(MADV_DONTNEED)` on the
 * read-only file mappings unmaps those pages; they stay in the page cache
 * (shared with every other process of that file, and now reclaimable under
 * memory pressure) and fault back in, cheaply, if the code runs again.
 * Measured on Bun: a one-session daemon 66 → 30 MiB RSS idle; the
 * throughput of the same run was unchanged.
 *
 * Only mappings that cannot hold data of the process are released: not
 * writable, file-backed, without a single copied, swapped or locked page,
 * so a dropped page always comes back exactly as it was (the relocated
 * read-only data of a PIE executable holds private pages: it is kept).
 * Nothing is released under `-m` (mlockall): locked memory stays locked.
 */
import { readFileSync } from "node:fs";
import { errnoName } from "../../ffi/errno.ts";
import type { Libc } from "../../ffi/libc.ts";
import type { Logger } from "../log.ts";

const MADV_DONTNEED = 4;

/** A range of the address space that /proc/self/smaps lists. */
export interface Mapping {
  start: number;
  end: number;
  /** The mapped file. */
  path: string;
  /** Resident bytes. */
  rss: number;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) [0-9a-f]+ \S+ \d+\s*(.*)$/;
const FIELD = /^(\w+):\s+(\d+) kB$/;

/**
 * The mappings in `smaps` (the text of /proc/self/smaps) whose resident
 * pages can be dropped and faulted back unchanged: read-only, backed by a
 * file (a path, not a device or a memfd), no anonymous, private-dirty,
 * swapped or locked page, and some pages resident.
 */
export function releasableMappings(smaps: string): Mapping[] {
  const out: Mapping[] = [];
  let current: Mapping | null = null;
  let ok = false;
  const finish = () => {
    if (current !== null && ok && current.rss > 0) out.push(current);
  };
  for (const line of smaps.split("\n")) {
    const header = HEADER.exec(line);
    if (header) {
      finish();
      const [, start, end, perms, path] = header as unknown as [string, string, string, string, string];
      // A memfd (shown as "/memfd:…") is memory, not a file whose pages the kernel can reclaim.
      const fileBacked = path.startsWith("/") && !path.startsWith("/dev/") && !path.startsWith("/memfd:");
      current = { start: Number.parseInt(start, 16), end: Number.parseInt(end, 16), path, rss: 0 };
      ok = fileBacked && perms[1] === "-" && perms[3] === "p";
      continue;
    }
    const field = FIELD.exec(line);
    if (!field || current === null) continue;
    const kib = Number(field[2]);
    switch (field[1]) {
      case "Rss":
        current.rss = kib * 1024;
        break;
      case "Anonymous":
      case "Private_Dirty":
      case "Swap": // a copied page that went to swap
      case "Locked":
        if (kib !== 0) ok = false;
        break;
    }
  }
  finish();
  return out;
}

/**
 * Drops the resident pages of every {@link releasableMappings} of this
 * process (all threads). Returns the bytes released (their RSS before) and
 * the first failure, if any.
 */
export function releaseCodePages(libc: Libc, smaps: string): { bytes: number; error: string | null } {
  let bytes = 0;
  let error: string | null = null;
  for (const m of releasableMappings(smaps)) {
    const r = libc.madvise(m.start, m.end - m.start, MADV_DONTNEED);
    if (r < 0) error ??= `madvise(${m.path}): ${errnoName(r)}`;
    else bytes += m.rss;
  }
  return { bytes, error };
}

/**
 * Milliseconds after a session comes up at which the daemon releases its
 * code pages: at once (what the session's thread touched while starting),
 * after 2 s and after 30 s (what the compilers touched warming the data path
 * up). Without the first, traffic that starts within 2 s of the session
 * stacks the compilers' pages on top of the start-up ones: a one-session
 * Bun daemon with a 3-s iperf3 run 1 s after up peaked at 62–64 MiB RSS
 * without it, 56–59 MiB with it (README, Performance).
 */
export const RELEASE_AFTER_UP_MS: readonly number[] = [0, 2_000, 30_000];

/**
 * When the daemon releases its code pages: once it is set up (listening, or
 * about to connect), and after each session comes up at the times of
 * {@link RELEASE_AFTER_UP_MS}. One-shot timers that do not keep the process
 * alive; none when idle.
 */
export class CodePageRelease {
  private readonly timers = new Map<number, ReturnType<typeof setTimeout>>();

  /** `enabled` false (under `-m`, or VTUNTS_DISABLE=code-release) makes every call a no-op. */
  constructor(
    private readonly libc: Libc,
    private readonly log: Logger,
    private readonly enabled: boolean,
  ) {}

  /** Releases now. */
  now(): void {
    if (!this.enabled) return;
    let smaps: string;
    try {
      smaps = readFileSync("/proc/self/smaps", "utf8");
    } catch (e) {
      this.log.debug(`code pages: cannot read /proc/self/smaps (${(e as Error).message})`);
      return;
    }
    const { bytes, error } = releaseCodePages(this.libc, smaps);
    this.log.debug(`code pages: released ${(bytes / 1048576).toFixed(1)} MiB of mapped program code${error ? ` (${error})` : ""}`);
  }

  /** A session's link is up: release at the times of {@link RELEASE_AFTER_UP_MS} (a pending release of the same delay is not doubled). */
  sessionUp(): void {
    if (!this.enabled) return;
    for (const ms of RELEASE_AFTER_UP_MS) {
      if (this.timers.has(ms)) continue;
      const t = setTimeout(() => {
        this.timers.delete(ms);
        this.now();
      }, ms);
      (t as { unref?: () => void }).unref?.();
      this.timers.set(ms, t);
    }
  }
}
