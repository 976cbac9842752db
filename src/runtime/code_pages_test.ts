import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createLibc } from "../../ffi/index.ts";
import type { Libc } from "../../ffi/libc.ts";
import { memoryLogger } from "../log.ts";
import { CodePageRelease, RELEASE_AFTER_UP_MS, releasableMappings, releaseCodePages } from "./code_pages.ts";

/** One /proc/self/smaps entry with the fields that matter (all others 0). */
function entry(range: string, perms: string, path: string, kib: Partial<Record<string, number>> = {}): string {
  const fields = { Size: 64, Rss: 40, Anonymous: 0, Private_Dirty: 0, Swap: 0, Locked: 0, ...kib };
  return [
    `${range} ${perms} 00000000 fe:00 12345                      ${path}`.trimEnd(),
    ...Object.entries(fields).map(([k, v]) => `${k}:${" ".repeat(Math.max(1, 16 - k.length))}${v} kB`),
    "THPeligible:           0",
    "VmFlags: rd mr mw me",
  ].join("\n");
}

describe("releasableMappings", () => {
  it("takes read-only private file mappings without a copied page, and nothing else", () => {
    const smaps = [
      entry("00200000-01a39000", "r--p", "/usr/local/bin/vtunts"), //  rodata: yes
      entry("01a40000-0684a000", "r-xp", "/usr/local/bin/vtunts", { Rss: 35976 }), // text: yes
      entry("0685f000-06867000", "r--p", "/usr/local/bin/vtunts", { Anonymous: 32, Private_Dirty: 32 }), // relocated (RELRO): no
      entry("06867000-06a7c000", "rw-p", "/usr/local/bin/vtunts"), // data: no
      entry("06a7c000-06b00000", "rw-p", "[heap]"), // no
      entry("7f0000000000-7f0000010000", "r--s", "/usr/lib/locale/locale-archive"), // shared: no
      entry("7f0000010000-7f0000020000", "r-xp", "/usr/lib/x86_64-linux-gnu/libc.so.6", { Rss: 1048 }), // yes
      entry("7f0000020000-7f0000030000", "r--p", "/usr/lib/x86_64-linux-gnu/libc.so.6", { Swap: 4 }), // swapped copy: no
      entry("7f0000030000-7f0000040000", "r-xp", "/usr/lib/x86_64-linux-gnu/libm.so.6", { Locked: 40 }), // mlock: no
      entry("7f0000040000-7f0000050000", "r-xp", "/usr/lib/x86_64-linux-gnu/libz.so.1", { Rss: 0 }), // nothing resident
      entry("7f0000050000-7f0000060000", "r--p", "/dev/zero"), // device: no
      entry("7f0000060000-7f0000070000", "r-xp", "/memfd:sealed-1 (deleted)"), // memory, not a file: no
      entry("7f0000068000-7f000006c000", "r-xp", "/opt/old/vtunts (deleted)"), // replaced binary: yes, its inode lives on
      entry("7f0000070000-7f0000080000", "r-xp", "memfd:jit"), // not a path: no
      entry("7f0000080000-7f0000090000", "r--p", ""), // anonymous: no
      entry("7fff0000a000-7fff0000c000", "r-xp", "[vdso]"), // no
    ].join("\n");
    assert.deepEqual(releasableMappings(smaps).map((m) => [m.start.toString(16), m.end.toString(16), m.path, m.rss / 1024]), [
      ["200000", "1a39000", "/usr/local/bin/vtunts", 40],
      ["1a40000", "684a000", "/usr/local/bin/vtunts", 35976],
      ["7f0000010000", "7f0000020000", "/usr/lib/x86_64-linux-gnu/libc.so.6", 1048],
      ["7f0000068000", "7f000006c000", "/opt/old/vtunts (deleted)", 40],
    ]);
  });

  it("is empty for empty or foreign text", () => {
    assert.deepEqual(releasableMappings(""), []);
    assert.deepEqual(releasableMappings("Rss: 40 kB\nnot a mapping\n"), []);
  });
});

describe("releaseCodePages on this process", () => {
  it("unmaps the resident pages of this runtime's code, and the runtime goes on running", async () => {
    const libc = await createLibc();
    const residentCode = () => releasableMappings(readFileSync("/proc/self/smaps", "utf8")).reduce((n, m) => n + m.rss, 0);
    const before = residentCode();
    assert.ok(before > 1024 * 1024, `only ${before} bytes of code resident before`);
    const { bytes, error } = releaseCodePages(libc, readFileSync("/proc/self/smaps", "utf8"));
    assert.equal(error, null);
    assert.ok(bytes >= before / 2, `released ${bytes} of ${before} bytes`);
    // Code runs again (faulting pages back in): a little work across the runtime.
    const json = JSON.stringify({ a: [1, 2, 3], b: new Date(0).toISOString() });
    assert.equal(JSON.parse(json).b, "1970-01-01T00:00:00.000Z");
    const after = residentCode();
    assert.ok(after < before, `resident code ${after} bytes after, ${before} before`);
  });
});

describe("CodePageRelease", () => {
  /** A libc whose madvise only counts (the schedule is under test, not the kernel). */
  function countingLibc(): { libc: Libc; calls: () => number } {
    let n = 0;
    const libc = { madvise: () => (n++, 0) } as unknown as Libc;
    return { libc, calls: () => n };
  }
  const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it("releases at once when a session comes up, not only seconds later", async () => {
    assert.equal(RELEASE_AFTER_UP_MS[0], 0, "the first release is immediate");
    assert.deepEqual(RELEASE_AFTER_UP_MS.slice(1), [2_000, 30_000]);
    const { libc, calls } = countingLibc();
    const { log, lines } = memoryLogger();
    const release = new CodePageRelease(libc, log, true);
    release.sessionUp();
    release.sessionUp(); // a second session in the same moment: no second pass
    await tick(50);
    const passes = lines.filter((l) => l.includes("code pages: released")).length;
    assert.equal(passes, 1, `one release pass right after the sessions came up: ${lines.join(" | ")}`);
    assert.ok(calls() > 0, "this process has releasable code mappings, and they were released");
  });

  it("does nothing when disabled (-m, VTUNTS_DISABLE=code-release)", async () => {
    const { libc, calls } = countingLibc();
    const { log } = memoryLogger();
    const release = new CodePageRelease(libc, log, false);
    release.sessionUp();
    release.now();
    await tick(50);
    assert.equal(calls(), 0);
  });
});
