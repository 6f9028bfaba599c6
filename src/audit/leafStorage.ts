import { deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * How a leaf is kept in `audit_records`: as text in `body` when it is small, deflated (raw
 * DEFLATE of its UTF-8 bytes, the bytes that were hashed) in `body_deflate` when it is large.
 * Compressing in the gateway is cheaper than the database's TOAST compression of the text: a
 * 174 KB leaf cost PGlite 2.4-2.7 ms to insert as text, 0.4-0.55 ms deflated (as base64, see
 * AuditWriter) plus 0.13 ms to deflate (measured alone, BENCHMARKS.md).
 */

/** Leaves of at least this many UTF-8 bytes are stored deflated; smaller ones as text. */
export const DEFLATE_FROM = 16 * 1024;
/**
 * The largest leaf stored deflated, and so the most a stored deflated leaf may inflate to: a
 * larger one is stored as text, and a stored stream that inflates beyond this is unreadable
 * (never a gateway or an auditor's process held up by about 8 KB built to inflate 1,000-fold).
 * 8 MiB is fifty times the leaf of a 100-subscriber page of ten fields.
 */
export const DEFLATE_UP_TO = 8 * 1024 * 1024;

/** A leaf as the store holds it, read with LEAF_COLUMNS: exactly one of the two is set. */
export interface StoredLeaf {
  body: string | null;
  /** The deflated leaf, base64 (see LEAF_COLUMNS). */
  body_deflate: string | null;
}

/**
 * The columns of `audit_records` that hold the leaf, for a SELECT list. The deflated form comes
 * as base64 text: PGlite turns a bytea value into bytes one parseInt per byte in JavaScript
 * (~0.5 ms for a 6 KB leaf), against ~0.04 ms for the text and Buffer.from (measured).
 */
export const LEAF_COLUMNS = `body, encode(body_deflate, 'base64') AS body_deflate`;

/** The deflated leaf's bytes from their LEAF_COLUMNS text (PostgreSQL's line breaks are skipped). */
export function deflatedBytes(base64: string): Uint8Array {
  // A copy of its own, never a slice of Buffer's shared pool: verify hands it to a worker thread.
  const bytes = Buffer.from(base64, 'base64');
  return new Uint8Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** The stored form of a leaf of UTF-8 `bytes`: deflated when it is large enough to pay. */
export function deflatedLeaf(bytes: Uint8Array): Buffer | undefined {
  if (bytes.length < DEFLATE_FROM || bytes.length > DEFLATE_UP_TO) return undefined;
  // Level 1: a leaf repeats its keys and values, so even the fastest level gains ~25x.
  return deflateRawSync(bytes, { level: 1 });
}

/**
 * The leaf's UTF-8 bytes from its deflated form; throws when they cannot be read back, and when
 * bytes follow the end of the stream (zlib would ignore them: the stored value is then more
 * than the leaf, so it is not what the writer stored).
 */
export function inflatedLeaf(stored: Uint8Array): Buffer {
  const { buffer, engine } = inflateRawSync(stored, { maxOutputLength: DEFLATE_UP_TO, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } };
  if (engine.bytesWritten !== stored.length) throw new Error('bytes follow the end of the deflated leaf');
  return buffer;
}

/** A stored leaf read back: its text (and, when it was deflated, its bytes), or what is wrong with it. */
export type ReadLeaf = { text: string; bytes?: Buffer } | { problem: 'no content' | 'both forms' | 'damaged' };

/**
 * Reads a stored leaf (its deflated form as LEAF_COLUMNS reads it, or as bytes). The one place
 * that decides whether a record holds exactly one readable leaf: `leafText` for the readers,
 * `audit verify` for its report.
 */
export function readLeaf(body: string | null, deflated: string | Uint8Array | null): ReadLeaf {
  if (deflated == null) return typeof body === 'string' ? { text: body } : { problem: 'no content' };
  if (body != null) return { problem: 'both forms' };
  try {
    const bytes = inflatedLeaf(typeof deflated === 'string' ? deflatedBytes(deflated) : deflated);
    return { text: bytes.toString('utf8'), bytes };
  } catch {
    return { problem: 'damaged' };
  }
}

const PROBLEMS: Record<Extract<ReadLeaf, { problem: unknown }>['problem'], string> = {
  'no content': 'has no content',
  'both forms': 'holds its content twice',
  damaged: 'cannot be read: its deflated content is damaged',
};

/** A stored leaf's text; throws a one-line error when the store holds none, two, or an unreadable one. */
export function leafText(row: { body: string | null; body_deflate: string | Uint8Array | null }, what = 'an audit record'): string {
  const read = readLeaf(row.body, row.body_deflate);
  if ('problem' in read) throw new Error(`${what} ${PROBLEMS[read.problem]}`);
  return read.text;
}
