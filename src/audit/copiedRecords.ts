/**
 * Records of `audit_records` as PostgreSQL's binary COPY format carries them: what `audit verify`
 * reads on PostgreSQL (one buffer per page, no string or object per row on the reading thread;
 * the records are decoded where they are checked, on a worker thread). Format:
 * https://www.postgresql.org/docs/current/sql-copy.html#id-1.9.3.55.9.4 (signature, flags,
 * header extension; per tuple a 16-bit field count, then per field a 32-bit length, -1 for NULL,
 * and the value in its type's binary form; a field count of -1 ends the data).
 */

/**
 * The columns of a copied page and the types the decoder reads them as: the schema's own. Never
 * cast (a cast would quietly normalise a column whose type was changed: a `numeric` position of
 * 41.6 cast to 42); verify reads a table whose types differ as rows instead (AuditStore).
 */
export const COPIED_TYPES: ReadonlyArray<readonly [column: string, type: string]> = [
  ['seq', 'bigint'],
  ['record_id', 'text'],
  ['leaf_hash', 'text'],
  ['body', 'text'],
  ['body_deflate', 'bytea'],
  ['at', 'timestamp with time zone'],
  ['purpose', 'text'],
  ['caller_sub', 'text'],
  ['caller_kind', 'text'],
  ['rejection_code', 'text'],
  ['subscriber_ids', 'text[]'],
];
export const COPIED_COLUMNS = COPIED_TYPES.map(([column]) => column).join(', ');
const FIELDS = COPIED_TYPES.length;

/**
 * UTF-8 text of `buf`'s bytes [start, end). Buffer's own `utf8Slice` (what `toString('utf8', ...)`
 * calls after sorting out its arguments) when Node has it: the wrapper took more time than the
 * decoding, for the short texts of a record (profile of verify's check, 1.8 KB records).
 */
export const utf8Text: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as { utf8Slice?: unknown }).utf8Slice === 'function'
    ? (buf, start, end) => (buf as Buffer & { utf8Slice(start: number, end: number): string }).utf8Slice(start, end)
    : (buf, start, end) => buf.toString('utf8', start, end);

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** 2000-01-01T00:00:00Z, PostgreSQL's timestamp epoch, in Unix milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;

/** A page of records as one binary COPY output, and their positions (read from it on the reading thread). */
export interface CopiedPage {
  /** The COPY output; its ArrayBuffer holds nothing else (it is transferred to a worker). */
  copy: Uint8Array;
  /** The records' `seq`, in order: the first `seq.length` tuples of `copy` are the page. */
  seq: number[];
}

/** One record decoded from a copied page. Text is UTF-8; a value that is not what the writer stores decodes to something no check accepts. */
export interface CopiedRecord {
  seq: number;
  recordId: string | null;
  leafHash: string | null;
  /** The leaf's UTF-8 bytes when it is stored as text. */
  body: Buffer | null;
  /** The deflated leaf when it is stored deflated. */
  deflated: Buffer | null;
  columns: CopiedColumns;
}

/** A record's query columns. */
export interface CopiedColumns {
  /** The `at` column in Unix milliseconds (NaN when it is not a whole millisecond or out of range). */
  atMs: number;
  purpose: string | null;
  callerSub: string | null;
  callerKind: string | null;
  rejectionCode: string | null;
  /** The `subscriber_ids` column; null when it is not a one-dimensional array. */
  subscriberIds: Array<string | null> | null;
}

/** Walks a binary COPY output tuple by tuple. Throws on anything that is not the expected layout. */
export class CopiedRecords {
  private readonly buf: Buffer;
  private offset: number;

  constructor(copy: Uint8Array) {
    this.buf = Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength);
    if (this.buf.length < 19 || !this.buf.subarray(0, 11).equals(SIGNATURE)) throw new Error('not a binary COPY output');
    const extension = this.buf.readUInt32BE(15);
    this.offset = 19 + extension;
    if (this.offset > this.buf.length) throw new Error('the COPY output is cut short');
  }

  /** The next tuple's field count: FIELDS, or -1 at the end. */
  private tuple(): number {
    const fields = this.int16();
    if (fields !== FIELDS && fields !== -1) throw new Error(`a COPY tuple has ${fields} fields, not ${FIELDS}`);
    return fields;
  }

  private int16(): number {
    if (this.offset + 2 > this.buf.length) throw new Error('the COPY output is cut short');
    const v = this.buf.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  /** The next field's length (-1 for NULL), its value then in [offset, offset + length). */
  private field(): number {
    if (this.offset + 4 > this.buf.length) throw new Error('the COPY output is cut short');
    const length = this.buf.readInt32BE(this.offset);
    this.offset += 4;
    if (length > this.buf.length - this.offset) throw new Error('the COPY output is cut short');
    return length;
  }

  /** A 64-bit integer field as a Number: NaN when NULL, not 8 bytes, or beyond 2^53. */
  private int64(): number {
    const length = this.field();
    if (length !== 8) {
      if (length > 0) this.offset += length;
      return NaN;
    }
    const v = this.buf.readInt32BE(this.offset) * 4294967296 + this.buf.readUInt32BE(this.offset + 4);
    this.offset += 8;
    return Number.isSafeInteger(v) ? v : NaN;
  }

  private bytes(): Buffer | null {
    const length = this.field();
    if (length < 0) return null;
    const v = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return v;
  }

  private text(): string | null {
    const length = this.field();
    if (length < 0) return null;
    const v = utf8Text(this.buf, this.offset, this.offset + length);
    this.offset += length;
    return v;
  }

  /** A text[] field (array_send): its elements when it is a one-dimensional (or empty) array of text. */
  private textArray(): Array<string | null> | null {
    const length = this.field();
    if (length < 0) return null;
    const end = this.offset + length;
    const buf = this.buf;
    let result: Array<string | null> | null = null;
    if (length >= 12) {
      const dims = buf.readInt32BE(this.offset);
      if (dims === 0) result = [];
      else if (dims === 1 && length >= 20) {
        const n = buf.readInt32BE(this.offset + 12);
        let at = this.offset + 20;
        const items: Array<string | null> = [];
        for (let i = 0; i < n && at + 4 <= end; i++) {
          const len = buf.readInt32BE(at);
          at += 4;
          if (len < 0) items.push(null);
          else {
            if (at + len > end) break;
            items.push(utf8Text(buf, at, at + len));
            at += len;
          }
        }
        if (items.length === n && at === end) result = items;
      }
    }
    this.offset = end;
    return result;
  }

  /** The next record, or undefined at the end of the data. */
  next(): CopiedRecord | undefined {
    if (this.tuple() === -1) return undefined;
    const seq = this.int64();
    const recordId = this.text();
    const leafHash = this.text();
    const body = this.bytes();
    const deflated = this.bytes();
    const atUs = this.int64();
    const atMs = atUs % 1000 === 0 ? atUs / 1000 + PG_EPOCH_MS : NaN;
    return {
      seq,
      recordId,
      leafHash,
      body,
      deflated,
      columns: {
        atMs,
        purpose: this.text(),
        callerSub: this.text(),
        callerKind: this.text(),
        rejectionCode: this.text(),
        subscriberIds: this.textArray(),
      },
    };
  }

  /**
   * The positions of the first `limit` tuples, read without decoding anything else (the reading
   * thread's share of the work); undefined when they are not in ascending order.
   */
  static positions(copy: Uint8Array, limit: number): number[] | undefined {
    const walk = new CopiedRecords(copy);
    const seq: number[] = [];
    while (seq.length < limit && walk.tuple() !== -1) {
      const s = walk.int64();
      if (Number.isNaN(s) || (seq.length > 0 && s <= seq[seq.length - 1])) return undefined;
      seq.push(s);
      for (let f = 1; f < FIELDS; f++) {
        const length = walk.field();
        if (length > 0) walk.offset += length;
      }
    }
    return seq;
  }
}
