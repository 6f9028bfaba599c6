/**
 * Runs `stop` once on the first SIGTERM or SIGINT, then exits 0 (1 if it failed). A second signal
 * while stopping is ignored: the drain is already bounded by SHUTDOWN_GRACE_MS.
 */
export function onShutdown(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    stop(signal).then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`purposegate: shutdown failed: ${(err as Error)?.message ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => handler('SIGTERM'));
  process.on('SIGINT', () => handler('SIGINT'));
}
