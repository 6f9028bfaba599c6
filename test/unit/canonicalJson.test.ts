import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonicalJson.js';

const reference = canonicalize as unknown as (v: unknown) => string;

describe('canonicalJson (RFC 8785)', () => {
  it('gives the same bytes as the canonicalize package on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue({ depthSize: 'medium' }), (value) => {
        expect(canonicalJson(value)).toBe(reference(value));
      }),
      { numRuns: 2000 },
    );
  });

  it('and on random Unicode text, escapes and all (unpaired surrogates refused by both)', () => {
    const string = fc.string({ unit: 'binary', maxLength: 12 });
    fc.assert(
      fc.property(fc.dictionary(string, fc.oneof(string, fc.array(string, { maxLength: 3 }), fc.double())), (value) => {
        let expected: string | Error;
        try {
          expected = reference(value);
        } catch (err) {
          expected = err as Error;
        }
        if (expected instanceof Error) expect(() => canonicalJson(value)).toThrow();
        else expect(canonicalJson(value)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it.each<[string, unknown, string]>([
    ['members sorted by UTF-16 code units', { b: 1, a: 2, '\u20ac': 3, '\ud83d\ude00': 4, '\r': 5 }, '{"\\r":5,"a":2,"b":1,"\u20ac":3,"\ud83d\ude00":4}'],
    ['numbers as ECMAScript writes them', [1e21, 1e-7, -0, 0.1, 123456789012345680000], '[1e+21,1e-7,0,0.1,123456789012345680000]'],
    ['undefined members left out, undefined items null', { a: undefined, b: [undefined, 1] }, '{"b":[null,1]}'],
    ['escapes as JSON.stringify', { s: 'a"b\\c\u0001\u2028' }, '{"s":"a\\"b\\\\c\\u0001\u2028"}'],
  ])('%s', (_name, value, expected) => {
    expect(canonicalJson(value)).toBe(expected);
    expect(canonicalJson(value)).toBe(reference(value));
  });

  it.each<[string, unknown]>([
    ['an unpaired surrogate', { s: String.fromCharCode(0xd800) }],
    ['an unpaired surrogate in a key', { [String.fromCharCode(0xdc00)]: 1 }],
    ['NaN', [Number.NaN]],
    ['Infinity', { n: Number.POSITIVE_INFINITY }],
  ])('refuses %s', (_name, value) => {
    expect(() => canonicalJson(value)).toThrow();
  });
});
