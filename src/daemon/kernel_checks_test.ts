/** checkTcpCongestion: a configuration's tcp_congestion against this kernel, before a daemon starts. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import { TCP_CONGESTION, type Libc } from "../../ffi/libc.ts";
import { ConfigError } from "../config/common.ts";
import { parseTomlConfig } from "../config/toml.ts";
import { checkTcpCongestion } from "./kernel_checks.ts";

const libc = await loadLibc();

/** `libc` that counts TCP_CONGESTION set-ups. */
function counting(): { libc: Libc; calls: () => number } {
  let calls = 0;
  const c: Libc = Object.create(libc);
  c.setsockopt = (fd, level, name, value, len) => {
    if (name === TCP_CONGESTION) calls++;
    return libc.setsockopt(fd, level, name, value, len);
  };
  return { libc: c, calls: () => calls };
}

const config = parseTomlConfig(
  `[hosts.a]\npasswd = "p"\ntcp_congestion = "reno"\n[hosts.b]\npasswd = "p"\n[hosts.c]\npasswd = "p"\ntcp_congestion = "reno"\n` +
    `[hosts.d]\npasswd = "p"\ntcp_congestion = "vtunts_nosuch"\n`,
  "test.toml",
);
const sessions = (...names: string[]) => names.map((n) => config.sessions.get(n)!);

describe("checkTcpCongestion", () => {
  it("passes names the kernel has, and unset ones; tries each name once", () => {
    const c = counting();
    checkTcpCongestion(c.libc, config, sessions("a", "b", "c"));
    assert.equal(c.calls(), 1);
  });

  it("refuses the configuration at the first name it lacks, naming file, host and reason", () => {
    assert.throws(() => checkTcpCongestion(libc, config, sessions("a", "d")), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^test\.toml: hosts\.d\.tcp_congestion: tcp_congestion "vtunts_nosuch": ENOENT \(no such algorithm in this kernel; available: /);
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
  });

  it("only the sessions given count (a client checks the one it runs)", () => {
    checkTcpCongestion(libc, config, sessions("b"));
  });
});
