/** A second process tried to open an embedded DATA_DIR that another live process holds. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
    /** The GraphQL URL of the server holding the directory, when it is one. */
    readonly url: string | undefined,
  ) {
    super(
      `DATA_DIR "${dataDir}" is in use by process ${pid}` +
        (url ? ` (server at ${url}); data commands go through it (or pass --url)` : '') +
        `. An embedded data directory must be opened by one process only.`,
    );
    this.name = 'DataDirLockedError';
  }
}
