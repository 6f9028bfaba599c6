/**
 * `COPY ... TO STDOUT` over node-postgres, as a submittable query: the whole output in one buffer
 * of its own (never a view of the driver's socket buffer, which it reuses), with no string and no
 * row object made per row. `audit verify` reads a log this way: on PostgreSQL, the driver's
 * per-row strings and objects were most of the reading thread's work (12.5 us of CPU per 1.9 KB
 * record, a third of it garbage collection; 3.7 us as one COPY buffer, measured in BENCHMARKS.md).
 */
export class CopyOutQuery {
  /** Set by the client (from the callback passed to client.query, wrapped with its read timeout). */
  callback?: (err: Error | undefined, output?: Uint8Array) => void;
  private buffer: Buffer;
  private size = 0;
  private error: Error | undefined;

  /**
   * `text`: the COPY statement (no parameters: COPY takes none). `into`: a buffer to gather the
   * output in, from its start (a larger one is made when it is too small); by default a new one.
   */
  constructor(
    readonly text: string,
    into?: ArrayBuffer,
  ) {
    this.buffer = into ? Buffer.from(into) : Buffer.allocUnsafeSlow(1 << 20);
  }

  submit(connection: { query(text: string): void }): void {
    connection.query(this.text);
  }

  // Called from the driver's socket listener: it must never throw (an output larger than memory
  // or than a Buffer can hold becomes this query's error).
  handleCopyData(msg: { chunk: Buffer }): void {
    if (this.error) return;
    const chunk = msg.chunk;
    try {
      if (this.size + chunk.length > this.buffer.length) {
        let length = Math.max(1024, this.buffer.length * 2);
        while (length < this.size + chunk.length) length *= 2;
        const grown = Buffer.allocUnsafeSlow(length);
        this.buffer.copy(grown, 0, 0, this.size);
        this.buffer = grown;
      }
      chunk.copy(this.buffer, this.size);
      this.size += chunk.length;
    } catch (err) {
      this.error = new Error(`the COPY output could not be held: ${(err as Error).message}`);
    }
  }

  // Answered at once: a connection that broke or was closed sends no ReadyForQuery after it.
  handleError(err: Error): void {
    this.error ??= err;
    this.finish();
  }

  // A COPY that is not `TO STDOUT` (or a statement that is not a COPY) answers with rows or none:
  // refused, never taken for an empty output.
  handleRowDescription(): void {
    this.error ??= new Error('the statement returned rows, not COPY data');
  }

  handleDataRow(): void {}

  handleEmptyQuery(): void {
    this.error ??= new Error('the statement was empty');
  }

  handleCommandComplete(): void {}

  handleCopyInResponse(connection: { sendCopyFail(message: string): void }): void {
    this.error ??= new Error('the statement asked for COPY data instead of sending it');
    connection.sendCopyFail('purposegate reads COPY output only');
  }

  handlePortalSuspended(): void {}

  handleReadyForQuery(): void {
    this.finish();
  }

  /** Answers once: the output, or the first error. */
  private finish(): void {
    const callback = this.callback;
    this.callback = undefined;
    if (this.error) callback?.(this.error);
    // A view of an ArrayBuffer that holds nothing else (allocUnsafeSlow, or the caller's): it can
    // be transferred to a worker thread as it is.
    else callback?.(undefined, new Uint8Array(this.buffer.buffer, this.buffer.byteOffset, this.size));
  }
}
