/** The PostgreSQL server of DATABASE_URL could not be reached or refused us at start. */
export class DatabaseUnavailableError extends Error {
  constructor(
    /** `host:port/database`, never the credentials. */
    readonly where: string,
    reason: string,
  ) {
    super(`The PostgreSQL server at ${where} (DATABASE_URL) cannot be used: ${reason}.`);
    this.name = 'DatabaseUnavailableError';
  }
}
