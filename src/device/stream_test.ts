/**
 * Tests of the pipe and tty devices with the real libc (no root needed):
 * bytes written by the program arrive as packets, packets arrive intact at the
 * program, and the program's exit ends the device.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { loadLibc } from "../../ffi/index.ts";
import { POLLIN } from "../../ffi/libc.ts";
import { waitFor } from "../transport/wait.ts";
import { DeviceError } from "./device.ts";
import { openPipe, openPty, type StreamDevice } from "./stream.ts";

const libc = await loadLibc();

/** Reads from `dev` until `want` bytes arrived (or 5 s pass). */
function readAll(dev: StreamDevice, want: number): Uint8Array {
  const out = new Uint8Array(want);
  let got = 0;
  const buf = new Uint8Array(2049);
  const deadline = Date.now() + 5000;
  while (got < want && Date.now() < deadline) {
    if (waitFor(libc, dev.fd, POLLIN, 200, -1) !== "ready") continue;
    const n = dev.readPacket(buf, 0, 2049);
    assert.ok(n <= 2049);
    out.set(buf.subarray(0, Math.min(n, want - got)), got);
    got += n;
  }
  assert.equal(got, want, `read ${got} of ${want} bytes`);
  return out;
}

/** Starts `cmd` with the device's program fd as stdin and stdout, then closes our copy. */
function startProgram(dev: StreamDevice, cmd: string) {
  const fd = dev.takeProgramFd();
  const child = spawn("/bin/sh", ["-c", cmd], { stdio: [fd, fd, "ignore"] });
  libc.close(fd);
  return new Promise<number | null>((resolve) => child.on("close", resolve));
}

for (const [kind, open] of [["pipe", openPipe], ["tty", openPty]] as const) {
  describe(`${kind} device`, () => {
    it("bytes pass both ways intact through a program (cat)", async () => {
      const dev = open(libc);
      try {
        if (kind === "tty") assert.match(dev.name, /^\/dev\/pts\/\d+$/);
        else assert.equal(dev.name, "pipe");
        const exited = startProgram(dev, "exec cat");
        const data = new Uint8Array(5000);
        for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
        assert.equal(dev.writePacket(data, 0, data.length), data.length);
        const back = readAll(dev, data.length);
        assert.deepEqual(back, data);
        dev.close();
        await exited;
      } finally {
        dev.close();
      }
    });

    it("the program's output arrives; its exit ends the device with DeviceError", async () => {
      const dev = open(libc);
      try {
        const exited = startProgram(dev, "printf 'hello from %s' prog");
        assert.equal(new TextDecoder().decode(readAll(dev, 15)), "hello from prog");
        assert.equal(await exited, 0);
        const buf = new Uint8Array(2049);
        assert.throws(() => {
          for (let i = 0; i < 100; i++) {
            waitFor(libc, dev.fd, POLLIN, 100, -1);
            dev.readPacket(buf, 0, 2049);
          }
        }, (e: unknown) => e instanceof DeviceError && /closed its end/.test(e.message));
      } finally {
        dev.close();
      }
    });
  });
}

describe("stream device backpressure", () => {
  it("a program slow to read: writes never block, the rest waits in the backlog and flush() delivers it in order", () => {
    const dev = openPipe(libc);
    const theirs = dev.takeProgramFd();
    try {
      const data = new Uint8Array(1024 * 1024).map((_, i) => (i * 31) & 0xff);
      for (let at = 0; at < data.length; at += 2048) assert.equal(dev.writePacket(data, at, 2048), 2048);
      assert.ok(dev.backlog > 0, "the socket could not take 1 MiB at once");
      const got = new Uint8Array(data.length);
      let n = 0;
      const chunk = new Uint8Array(65536);
      for (let i = 0; i < 10_000 && n < data.length; i++) {
        const r = libc.read(theirs, chunk, 0, chunk.length);
        if (r > 0) {
          got.set(chunk.subarray(0, r), n);
          n += r;
        }
        dev.flush();
      }
      assert.equal(n, data.length);
      assert.equal(dev.backlog, 0);
      assert.deepEqual(got, data);
    } finally {
      libc.close(theirs);
      dev.close();
    }
  });
});
