/**
 * Frames in batched UDP: how queued frames are grouped into GSO runs (equal
 * sizes, one shorter last frame, limits) and how a received buffer — one
 * datagram, or several coalesced by UDP_GRO — is split back into frames,
 * including layouts no kernel would produce.
 */
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { CONN_CLOSE, ECHO_REQ, HEADER_SIZE, writeControlHeader, writeDataHeader } from "../protocol/frame.ts";
import type { FrameSink } from "./transport.ts";
import { deliverDatagrams, frameSize, gsoRunEnd } from "./udp_gso.ts";

/** A frame per entry: a number is a data frame with that body length, a string a control frame. */
type Spec = Array<number | "echo" | "close">;

/** The frames of `spec` back to back; data bodies are filled with their index. */
function frames(spec: Spec): Uint8Array {
  const total = spec.reduce<number>((n, f) => n + HEADER_SIZE + (typeof f === "number" ? f : 0), 0);
  const buf = new Uint8Array(total);
  let at = 0;
  spec.forEach((f, i) => {
    if (typeof f === "number") {
      writeDataHeader(buf, at, f);
      buf.fill(i + 1, at + HEADER_SIZE, at + HEADER_SIZE + f);
      at += HEADER_SIZE + f;
    } else {
      writeControlHeader(buf, at, f === "echo" ? ECHO_REQ : CONN_CLOSE);
      at += HEADER_SIZE;
    }
  });
  return buf;
}

/** Run lengths (in frames) that gsoRunEnd cuts `spec` into. */
function runs(spec: Spec, maxSegments = 64, maxBytes = 65000): number[] {
  const buf = frames(spec);
  const out: number[] = [];
  for (let at = 0; at < buf.length; ) {
    const end = gsoRunEnd(buf, at, buf.length, maxSegments, maxBytes);
    let n = 0;
    for (let p = at; p < end; p += frameSize(buf, p)) n++;
    out.push(n);
    at = end;
  }
  return out;
}

/** What a sink saw, in order. */
function collect(buf: Uint8Array, length: number, coalesced: boolean): string[] {
  const seen: string[] = [];
  const sink: FrameSink = {
    onData: (b, off, len) => {
      const first = b[off]!;
      assert.ok(b.subarray(off, off + len).every((x) => x === first), "body intact");
      seen.push(`data ${len}#${first}`);
    },
    onControl: (c) => seen.push(`control ${c.toString(16)}`),
    onBadFrame: (reason) => seen.push(`bad: ${reason}`),
  };
  deliverDatagrams(buf, length, coalesced, sink);
  return seen;
}

describe("gsoRunEnd", () => {
  it("groups equal-size frames, a shorter frame ends the run", () => {
    assert.deepEqual(runs([1448, 1448, 1448, 1448, 700, 1448, 1448]), [5, 2]);
  });

  it("a longer frame starts a new run", () => {
    assert.deepEqual(runs([100, 100, 1448, 1448, 1448]), [2, 3]);
  });

  it("control frames are 2-byte datagrams: a short last segment, or a run of their own", () => {
    assert.deepEqual(runs([500, 500, "echo", "echo", "close"]), [3, 2]);
    assert.deepEqual(runs(["echo", "close", 60]), [2, 1]);
  });

  it("growing sizes: one datagram each; a shorter frame still joins the run before it", () => {
    assert.deepEqual(runs([40, 52, 1500, 1400, 90]), [1, 1, 2, 1]);
    assert.deepEqual(runs([1000]), [1]);
  });

  it("respects the segment and byte limits", () => {
    assert.deepEqual(runs(new Array<number>(150).fill(1000)), [64, 64, 22]);
    assert.deepEqual(runs(new Array<number>(10).fill(1000), 64, 3 * 1002), [3, 3, 3, 1]);
    // A shorter last frame that would cross the byte limit starts the next run.
    assert.deepEqual(runs([1000, 1000, 500], 64, 2 * 1002 + 100), [2, 1]);
  });
});

describe("deliverDatagrams", () => {
  it("one datagram, one frame: data, control, empty data", () => {
    const data = frames([300]);
    assert.deepEqual(collect(data, data.length, false), ["data 300#1"]);
    const echo = frames(["echo"]);
    assert.deepEqual(collect(echo, echo.length, false), ["control 2000"]);
    const empty = frames([0]);
    assert.deepEqual(collect(empty, empty.length, false), []);
  });

  it("one datagram whose size disagrees with its header is dropped (vtund's rule)", () => {
    const buf = frames([300, 300]);
    assert.match(collect(buf, buf.length, false)[0]!, /^bad: datagram of 604 bytes with a header for 300/);
    assert.match(collect(buf, 1, false)[0]!, /^bad: datagram of 1 bytes/);
    const control = frames(["echo", 5]);
    assert.match(collect(control, control.length, false)[0]!, /^bad: control datagram of 9 bytes/);
  });

  it("coalesced: equal-size frames and a shorter last one come out in order", () => {
    const buf = frames([1400, 1400, 1400, 90]);
    assert.deepEqual(collect(buf, buf.length, true), ["data 1400#1", "data 1400#2", "data 1400#3", "data 90#4"]);
    const controls = frames(["echo", "echo", "close"]);
    assert.deepEqual(collect(controls, controls.length, true), ["control 2000", "control 2000", "control 1000"]);
    const single = frames([77]);
    assert.deepEqual(collect(single, single.length, true), ["data 77#1"]);
  });

  it("coalesced: a frame longer than the first, or a short one in the middle, drops the rest", () => {
    const longer = frames([100, 100, 200, 100]);
    assert.deepEqual(collect(longer, longer.length, true).slice(0, 2), ["data 100#1", "data 100#2"]);
    assert.match(collect(longer, longer.length, true)[2]!, /^bad: .*do not split into 102-byte frames at byte 204/);
    assert.equal(collect(longer, longer.length, true).length, 3);
    const shortMiddle = frames([100, 50, 100]);
    assert.deepEqual(collect(shortMiddle, shortMiddle.length, true).slice(0, 1), ["data 100#1"]);
    assert.match(collect(shortMiddle, shortMiddle.length, true)[1]!, /^bad: .* at byte 102/);
  });

  it("coalesced: a header that claims more than arrived, or a 1-byte tail, is bad", () => {
    const buf = frames([100, 100]);
    assert.deepEqual(collect(buf, buf.length - 1, true).length, 2);
    assert.match(collect(buf, buf.length - 1, true)[1]!, /^bad: /);
    const tail = new Uint8Array(buf.length + 1);
    tail.set(buf);
    const seen = collect(tail, tail.length, true);
    assert.deepEqual(seen.slice(0, 2), ["data 100#1", "data 100#2"]);
    assert.match(seen[2]!, /^bad: .* at byte 204/);
    const claims = frames([100]);
    writeDataHeader(claims, 0, 4000);
    assert.match(collect(claims, claims.length, true)[0]!, /^bad: /);
  });

  it("coalesced: an oversized frame in a consistent layout is dropped alone", () => {
    const buf = frames([2200, 2200, 100]);
    assert.deepEqual(collect(buf, buf.length, true).map((s) => s.replace(/:.*/, "")), ["bad", "bad", "data 100#3"]);
  });
});
