import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { GraphQLError } from 'graphql';

/**
 * Page cursors are sealed (AES-256-GCM): they carry values such as a call's start time that the
 * caller's purpose may not read, so they must be opaque and unforgeable, not base64.
 */
export class CursorCodec {
  private readonly key: Buffer;

  /** `secret` is the deployment secret (MASK_KEY); the cursor key is derived from it. */
  constructor(secret: string) {
    this.key = createHash('sha256').update('purposegate cursor v1\u0000').update(secret).digest();
  }

  seal(parts: readonly string[]): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(parts), 'utf8'), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** Opens a cursor made by seal(); anything else is the caller's mistake (BAD_USER_INPUT). */
  open(cursor: string, parts: number): string[] {
    const bad = () => new GraphQLError(`Cursor "${cursor.slice(0, 64)}" is not valid.`, { extensions: { code: 'BAD_USER_INPUT' } });
    const raw = Buffer.from(cursor, 'base64url');
    if (raw.length < 29) throw bad();
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      const text = Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
      const value = JSON.parse(text) as unknown;
      if (!Array.isArray(value) || value.length !== parts || value.some((p) => typeof p !== 'string')) throw new Error();
      return value as string[];
    } catch {
      throw bad();
    }
  }
}

/** Clamps `first` to [0, max]; a negative `first` is refused. */
export function pageSize(first: number | null | undefined, fallback: number, max: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0) {
    throw new GraphQLError(`"first" must be a non-negative integer, got ${String(first)}.`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return Math.min(n, max);
}
