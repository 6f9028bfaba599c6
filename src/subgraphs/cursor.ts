import { GraphQLError } from 'graphql';

/** An opaque page cursor. */
export function encodeCursor(parts: readonly string[]): string {
  return Buffer.from(parts.join('\u0000'), 'utf8').toString('base64url');
}

/** Reads a cursor made by encodeCursor; a malformed one is the caller's mistake (BAD_USER_INPUT). */
export function decodeCursor(cursor: string, parts: number): string[] {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8').split('\u0000');
  if (decoded.length !== parts || decoded.some((p) => p === '')) {
    throw new GraphQLError(`Cursor "${cursor}" is not valid.`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return decoded;
}

/** Clamps `first` to [0, max]; a negative `first` is refused. */
export function pageSize(first: number | null | undefined, fallback: number, max: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0) {
    throw new GraphQLError(`"first" must be a non-negative integer, got ${String(first)}.`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return Math.min(n, max);
}
