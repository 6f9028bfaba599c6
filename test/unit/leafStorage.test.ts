import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DEFLATE_FROM, DEFLATE_UP_TO, deflatedBytes, deflatedLeaf, inflatedLeaf, leafText } from '../../src/audit/leafStorage.js';

/** ASCII text of exactly `n` bytes (it compresses well, as a leaf does). */
const textOf = (n: number) => Buffer.alloc(n, 'decision ');

describe('leaf storage', () => {
  it('deflates a leaf from 16 KiB up to 8 MiB, and stores smaller and larger ones as text', () => {
    expect(deflatedLeaf(textOf(DEFLATE_FROM - 1))).toBeUndefined();
    const at = textOf(DEFLATE_FROM);
    expect(at).toHaveLength(DEFLATE_FROM);
    expect(inflatedLeaf(deflatedLeaf(at)!).equals(at)).toBe(true);
    const largest = textOf(DEFLATE_UP_TO);
    expect(inflatedLeaf(deflatedLeaf(largest)!).equals(largest)).toBe(true);
    expect(deflatedLeaf(textOf(DEFLATE_UP_TO + 1))).toBeUndefined();
  });

  it('reads the base64 the store sends, PostgreSQL\u2019s line breaks included', () => {
    const bytes = deflatedLeaf(textOf(20_000))!;
    const wrapped = bytes.toString('base64').replace(/.{76}/g, '$&\n');
    expect(wrapped).toContain('\n');
    expect(Buffer.from(deflatedBytes(wrapped)).equals(bytes)).toBe(true);
    expect(leafText({ body: null, body_deflate: wrapped })).toBe(textOf(20_000).toString('utf8'));
  });

  it.each<[string, { body: string | null; body_deflate: string | Uint8Array | null }, string]>([
    ['no content', { body: null, body_deflate: null }, 'an audit record has no content'],
    ['both forms', { body: '{}', body_deflate: deflateRawSync(Buffer.from('{}')) }, 'an audit record holds its content twice'],
    ['bytes that do not inflate', { body: null, body_deflate: Buffer.from('not deflate at all') }, 'an audit record cannot be read: its deflated content is damaged'],
    ['bytes after the end of the stream', { body: null, body_deflate: Buffer.concat([deflateRawSync(Buffer.from('{}')), Buffer.from('JUNK')]) }, 'an audit record cannot be read: its deflated content is damaged'],
    ['a stream that inflates beyond 8 MiB', { body: null, body_deflate: deflateRawSync(Buffer.alloc(DEFLATE_UP_TO + 1), { level: 9 }) }, 'an audit record cannot be read: its deflated content is damaged'],
  ])('refuses a stored leaf with %s, in one line', (_name, row, message) => {
    expect(() => leafText(row)).toThrow(new Error(message));
  });
});
