/**
 * The main thread's handle on one worker thread: starts it with a job and a
 * wake-up pipe, answers its events (runs up/down commands), and reports how
 * it ended. `stop()` writes to the wake-up pipe, which ends any poll() wait
 * in the worker (a blocked FFI call cannot be interrupted any other way).
 */
import type { Worker } from "node:worker_threads";
import type { Libc } from "../../ffi/index.ts";
import { check, O_CLOEXEC, O_NONBLOCK } from "../../ffi/libc.ts";
import { startWorker } from "../runtime/worker.ts";
import type { Logger } from "../log.ts";
import type { Endpoint } from "../transport/address.ts";
import { runCommands } from "./commands.ts";
import { WAKE_RESET_STATS } from "../link/poll_loop.ts";
import type { KeptDevice, MainEvent, WorkerEvent, WorkerJob } from "./messages.ts";
import type { SessionOutcome } from "./session.ts";

/** `Omit` applied to each member of a union. */
type OmitEach<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** A job without the wake-up fd, which the handle creates. */
type JobSpec = OmitEach<WorkerJob, "wakeFd">;

/** Callbacks for events that need the main thread. */
export interface WorkerHooks {
  /** An accepted connection (acceptor worker). */
  onAccepted?(fd: number, peer: Endpoint): void;
  /** A device to keep for the next session (persist keep). */
  onKeepDevice?(device: KeptDevice): void;
  /** The session authenticated and its link is up. */
  onUp?(): void;
  /** A server session authenticated: may it run (`multi`)? */
  onAdmit?(session: string, multi: "allow" | "deny" | "killold", worker: SessionWorker): Promise<true | string>;
}

/**
 * The module a worker thread starts with. From source that is worker.ts (or
 * worker.js in the JavaScript scripts/run compiles for Node); a `bun build
 * --compile` binary embeds it as a second entry point, which the CLI
 * registers (see src/cli/main.ts and scripts/build).
 */
let workerEntry: URL = new URL(import.meta.url.endsWith(".js") ? "./worker.js" : "./worker.ts", import.meta.url);

/** Makes workers start from `entry` instead of worker.ts (see above). */
export function setWorkerEntry(entry: URL): void {
  workerEntry = entry;
}

/** A running worker thread. */
export class SessionWorker {
  /** Resolves once the worker has finished and its resources are released. */
  readonly done: Promise<SessionOutcome | null>;
  /** True once the session authenticated (its link came up). */
  authenticated = false;
  /** The session this worker runs, once admitted. */
  session: string | null = null;
  private readonly wakeRead: number;
  private readonly wakeWrite: number;
  private upCommands: Promise<unknown> = Promise.resolve();
  private finished = false;
  private readonly worker: Worker;

  constructor(
    private readonly libc: Libc,
    job: JobSpec,
    private readonly log: Logger,
    hooks: WorkerHooks = {},
  ) {
    const pipe = new Int32Array(2);
    check(libc.pipe2(pipe, O_CLOEXEC | O_NONBLOCK), "pipe2()");
    this.wakeRead = pipe[0]!;
    this.wakeWrite = pipe[1]!;
    this.worker = startWorker(workerEntry, { ...job, wakeFd: this.wakeRead });
    this.done = new Promise((resolve) => {
      let outcome: SessionOutcome | null = null;
      const finish = () => {
        if (this.finished) return;
        this.finished = true;
        // Let any still-running up/down commands complete before reporting.
        void this.upCommands.finally(() => {
          this.libc.close(this.wakeRead);
          this.libc.close(this.wakeWrite);
          resolve(outcome);
        });
      };
      this.worker.on("message", (event: WorkerEvent) => {
        switch (event.type) {
          case "up": {
            this.authenticated = true;
            hooks.onUp?.();
            const log = this.log.forSession(event.info.session);
            const stdioFd = event.stdioFd;
            this.upCommands = runCommands("up", event.commands, event.info, log, stdioFd).finally(() => {
              // The commands hold their own copies now (pipe/tty); ours would keep the stream open.
              if (stdioFd !== null) this.libc.close(stdioFd);
            });
            break;
          }
          case "down": {
            const log = this.log.forSession(event.info.session);
            void this.upCommands
              .then(() => runCommands("down", event.commands, event.info, log))
              .finally(() => this.worker.postMessage({ type: "down-done" } satisfies MainEvent));
            break;
          }
          case "admit": {
            const decide = hooks.onAdmit ? hooks.onAdmit(event.session, event.multi, this) : Promise.resolve(true as const);
            void decide.then((verdict) => {
              if (verdict === true) this.session = event.session;
              if (!this.finished) this.worker.postMessage({ type: "admit-reply", verdict } satisfies MainEvent);
            });
            break;
          }
          case "log":
            this.log[event.level](event.message);
            break;
          case "keep-device":
            hooks.onKeepDevice?.(event.device);
            break;
          case "accepted":
            hooks.onAccepted?.(event.fd, event.peer);
            break;
          case "done":
            outcome = event.outcome;
            void this.worker.terminate().finally(finish);
            break;
        }
      });
      this.worker.on("error", (e: Error) => {
        this.log.error(`worker crashed: ${e.stack ?? e.message}`);
        outcome = { kind: "failed", session: null, cause: "local", message: `worker crashed: ${e.message}` };
      });
      this.worker.on("exit", finish);
    });
  }

  /** Zeroes the link's traffic counters (SIGUSR1); only while the link runs. */
  resetStats(): void {
    if (this.finished || !this.authenticated) return;
    this.libc.write(this.wakeWrite, new Uint8Array([WAKE_RESET_STATS]), 0, 1);
  }

  /** Asks the worker to end its session (or stop accepting) as soon as possible. */
  stop(): void {
    if (this.finished) return;
    this.libc.write(this.wakeWrite, new Uint8Array([1]), 0, 1);
  }
}
