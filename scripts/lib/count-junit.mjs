// Counts the leaf tests of a JUnit XML report: prints "PASSED FAILED SKIPPED".
// Deno reports node:test suites as tests with steps, and writes every step as a
// testcase named "parent > child"; a testcase that is the parent of another is
// not counted (unless it failed while all its children passed, e.g. in a hook).
//   node scripts/lib/count-junit.mjs report.xml
import { readFileSync } from "node:fs";

const xml = readFileSync(process.argv[2], "utf8");
let passed = 0;
let failed = 0;
let skipped = 0;
const unescape = (s) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
// Deno puts the steps of every file into one testsuite ("ext:deno_node/testing.ts"), so
// parents and children are matched across the whole report.
{
  const suite = xml;
  const cases = [];
  // Attribute values may hold a raw ">" (Deno escapes only some), so match quoted attributes whole.
  const re = /<testcase((?:\s+[\w:-]+="[^"]*")*)\s*(\/?)>/g;
  for (let m = re.exec(suite); m; m = re.exec(suite)) {
    const name = unescape(/\sname="([^"]*)"/.exec(m[1])?.[1] ?? "");
    let body = "";
    if (m[2] !== "/") {
      const end = suite.indexOf("</testcase>", re.lastIndex);
      body = suite.slice(re.lastIndex, end < 0 ? undefined : end);
    }
    cases.push({ name, failed: /<(failure|error)\b/.test(body), skipped: /<skipped\b/.test(body) });
  }
  const isParent = (c) => cases.some((o) => o.name.startsWith(`${c.name} > `));
  for (const c of cases) {
    if (isParent(c)) {
      const childFailed = cases.some((o) => o.name.startsWith(`${c.name} > `) && o.failed);
      if (c.failed && !childFailed) failed++;
    } else if (c.failed) failed++;
    else if (c.skipped) skipped++;
    else passed++;
  }
}
console.log(`${passed} ${failed} ${skipped}`);
