/**
 * Reads an ftrace text dump taken by scripts/trace-idle and says where an
 * idle ping's round trip went, hop by hop (median µs over all round trips),
 * where the server's thread woke up, and, for the most common order of
 * events, every syscall of both daemons with its median time.
 *
 *   bun scripts/lib/idle-trace.ts TRACE_FILE
 *
 * The trace holds `net_dev_queue`/`netif_receive_skb` of every device and
 * `sys_enter`/`sys_exit` of the daemons' threads. A round trip starts when
 * `ping` queues its request on the client's tun0 and ends when the reply is
 * received on tun0; the hops between are found by event order:
 *
 *   client woken   request queued on tun0 → the client daemon's poll/select returns
 *   client out     → the request (as a tunnel frame) is received on the server's veth
 *   server woken   → the server daemon's poll/select returns
 *   server in      → the ICMP reply is queued on the server's tun0 (the kernel answers inside the write)
 *   server out     → the reply frame is received on the client's veth
 *   client woken   → the client daemon's poll/select returns
 *   client in      → the reply is received on the client's tun0
 */
import { readFileSync } from "node:fs";

interface TraceEvent {
  us: number;
  name: string;
  tid: string;
  comm: string;
  cpu: number;
}

/** Syscall numbers (x86_64) worth a name in the step listing. */
const SYSCALLS: Record<string, string> = {
  "0": "read", "1": "write", "7": "poll", "19": "readv", "20": "writev", "23": "select", "44": "sendto",
  "45": "recvfrom", "46": "sendmsg", "47": "recvmsg", "202": "futex", "228": "clock_gettime",
  "270": "pselect6", "271": "ppoll", "307": "sendmmsg", "299": "recvmmsg",
};
const WAITS = new Set(["<poll", "<select", "<pselect6", "<ppoll"]);
const LINE = /^\s*(.+?)-(\d+)\s+\[(\d+)\].{4,10}?\s([\d.]+): (\S+): (.*)$/;

function parse(text: string): TraceEvent[] {
  const out: TraceEvent[] = [];
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const [, comm, tid, cpu, ts, event, rest] = m as unknown as [string, string, string, string, string, string, string];
    const us = Number(ts) * 1e6;
    if (event === "sys_enter" || event === "sys_exit") {
      const nr = /NR (\d+)/.exec(rest)?.[1];
      if (nr === undefined) continue;
      out.push({ us, name: (event === "sys_exit" ? "<" : ">") + (SYSCALLS[nr] ?? `nr${nr}`), tid, comm, cpu: Number(cpu) });
    } else if (event === "net_dev_queue" || event === "netif_receive_skb") {
      const dev = /dev=(\S+)/.exec(rest)?.[1] ?? "?";
      out.push({ us, name: `${event === "net_dev_queue" ? "queue" : "rx"}@${dev}`, tid, comm, cpu: Number(cpu) });
    }
  }
  return out;
}

const HOPS = ["client woken", "client out", "server woken", "server in", "server out", "client woken", "client in"];

interface Trip {
  /** Start of each hop and the end, µs from the request. */
  marks: number[];
  clientCpu: number;
  serverCpu: number;
  /** Every daemon syscall and device event of the trip, with its time from the request. */
  steps: Array<{ name: string; us: number }>;
}

/** The round trips in `events`: each as the times of the hop boundaries, in order. */
function trips(events: TraceEvent[]): Trip[] {
  const starts: number[] = [];
  events.forEach((e, i) => {
    if (e.name === "queue@tun0" && e.comm.startsWith("ping")) starts.push(i);
  });
  const out: Trip[] = [];
  for (let s = 0; s < starts.length; s++) {
    const from = starts[s]!;
    const to = s + 1 < starts.length ? starts[s + 1]! : events.length;
    const t0 = events[from]!.us;
    let client: string | null = null;
    let clientCpu = -1, serverCpu = -1;
    // What to find next: a wake of the client, of the server (any other daemon thread), or a device event.
    const want: Array<"client" | "server" | string> = ["client", "rx@", "server", "queue@tun0", "rx@", "client", "rx@tun0"];
    const marks = [0];
    const steps: Array<{ name: string; us: number }> = [];
    const threads = new Map<string, string>();
    let w = 0;
    for (let i = from + 1; i < to && w < want.length; i++) {
      const e = events[i]!;
      if (e.comm.startsWith("ping")) continue;
      if (e.name[0] === "<" || e.name[0] === ">") {
        if (!threads.has(e.tid)) threads.set(e.tid, `T${threads.size}`);
        steps.push({ name: `${e.name} ${threads.get(e.tid)}`, us: e.us - t0 });
      } else {
        steps.push({ name: e.name, us: e.us - t0 });
      }
      const goal = want[w]!;
      let hit = false;
      if (goal === "client" && WAITS.has(e.name) && (client === null || e.tid === client)) {
        if (client === null) { client = e.tid; clientCpu = e.cpu; }
        hit = true;
      } else if (goal === "server" && WAITS.has(e.name) && e.tid !== client) {
        serverCpu = e.cpu;
        hit = true;
      } else if (goal === "rx@" && e.name.startsWith("rx@") && e.name !== "rx@tun0" && e.name !== "rx@lo") {
        hit = true;
      } else if (goal === e.name) {
        hit = true;
      }
      if (hit) {
        marks.push(e.us - t0);
        w++;
      }
    }
    if (w === want.length) out.push({ marks, clientCpu, serverCpu, steps });
  }
  return out;
}

function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  return v.length === 0 ? NaN : v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

function main(): void {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: bun scripts/lib/idle-trace.ts TRACE_FILE");
    process.exit(2);
  }
  const all = trips(parse(readFileSync(file, "utf8")));
  if (all.length === 0) {
    console.error(`idle-trace: no complete round trip in ${file}`);
    process.exit(1);
  }
  const hop = (t: Trip, h: number) => t.marks[h + 1]! - t.marks[h]!;
  console.log(`${all.length} round trips; median µs per hop:\n`);
  console.log(`| ${HOPS.join(" | ")} | total |`);
  console.log(`|${"---|".repeat(HOPS.length + 1)}`);
  console.log(`| ${HOPS.map((_, h) => median(all.map((t) => hop(t, h))).toFixed(0)).join(" | ")} | ${median(all.map((t) => t.marks[7]!)).toFixed(0)} |`);

  // The server's wake-up depends on where the scheduler puts its thread: on the CPU that
  // delivered the frame (it runs once that CPU is free) or on the other one (an idle CPU
  // woken by an interrupt, which on a VM is slow).
  const same = all.filter((t) => t.serverCpu === t.clientCpu);
  const other = all.filter((t) => t.serverCpu !== t.clientCpu);
  console.log(`\nserver woken on the client's CPU: ${same.length} trips, median ${median(same.map((t) => hop(t, 2))).toFixed(0)} µs;` +
    ` on another CPU: ${other.length} trips, median ${median(other.map((t) => hop(t, 2))).toFixed(0)} µs`);

  const bySequence = new Map<string, Trip[]>();
  for (const t of all) {
    const key = t.steps.map((s) => s.name).join(",");
    bySequence.set(key, [...(bySequence.get(key) ?? []), t]);
  }
  const [key, group] = [...bySequence.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  console.log(`\nthe most common order of events (${group.length} of ${all.length} trips), median µs from the request` +
    ` (> enters a syscall, < returns; T0 = the client daemon's thread):\n`);
  let previous = 0;
  key.split(",").forEach((name, i) => {
    const us = median(group.map((t) => t.steps[i]!.us));
    console.log(`  ${name.padEnd(20)} ${us.toFixed(1).padStart(7)}  (+${(us - previous).toFixed(1)})`);
    previous = us;
  });
}

main();
