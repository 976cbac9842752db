/** Signal handling for the daemon's main thread. */

/** Handlers for the signals vtund reacts to. */
export interface SignalHandlers {
  /** SIGTERM or SIGINT: shut down. */
  terminate(signal: string): void;
  /** SIGHUP: server re-reads its config; client reconnects. */
  hangup?(): void;
  /** SIGUSR1: reset traffic counters. */
  resetStats?(): void;
}

/** Installs the handlers; returns a function that removes them. */
export function onSignals(handlers: SignalHandlers): () => void {
  const term = (signal: NodeJS.Signals) => handlers.terminate(signal);
  const hup = () => handlers.hangup?.();
  const usr1 = () => handlers.resetStats?.();
  process.on("SIGTERM", term);
  process.on("SIGINT", term);
  process.on("SIGHUP", hup);
  process.on("SIGUSR1", usr1);
  return () => {
    process.off("SIGTERM", term);
    process.off("SIGINT", term);
    process.off("SIGHUP", hup);
    process.off("SIGUSR1", usr1);
  };
}
