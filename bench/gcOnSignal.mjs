// Preloaded into the soak's gateway (node --expose-gc --import): a full collection on SIGUSR2,
// so bench/soak.ts can read the live heap at the end of warm-up and at the end of the run.
process.on('SIGUSR2', () => globalThis.gc?.());
