/** checkTcpCongestion: a configuration's tcp_congestion against this kernel, before a daemon starts. */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { loadLibc } from "../../ffi/index.ts";
import { IPPROTO_TCP, TCP_CONGESTION } from "../../ffi/libc.ts";
import { ConfigError } from "../config/common.ts";
import { parseTomlConfig } from "../config/toml.ts";
import { checkTcpCongestion } from "./kernel_checks.ts";
import { recordingSocketOption } from "../../test/fakes/tcp_sockets.ts";

const libc = await loadLibc();

/** `libc` that records the TCP_CONGESTION names set. */
const recordingCongestion = () => recordingSocketOption(libc, IPPROTO_TCP, TCP_CONGESTION, (v) => new TextDecoder().decode(v));

const config = parseTomlConfig(
  `[hosts.a]\npasswd = "p"\ntcp_congestion = "reno"\n[hosts.b]\npasswd = "p"\n[hosts.c]\npasswd = "p"\ntcp_congestion = "reno"\n` +
    `[hosts.d]\npasswd = "p"\ntcp_congestion = "vtunts_nosuch"\n`,
  "test.toml",
);
const sessions = (...names: string[]) => names.map((n) => config.sessions.get(n)!);

describe("checkTcpCongestion", () => {
  it("passes names the kernel has, and unset ones; tries each name once", () => {
    const c = recordingCongestion();
    checkTcpCongestion(c.libc, config, sessions("a", "b", "c"));
    assert.deepEqual(c.values, ["reno"]);
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
