import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalLeaf } from '../../src/audit/canonicalJson.js';

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

describe('canonicalLeaf (decisions written by a serialiser that knows their shape)', () => {
  const text = fc.oneof(fc.constantFrom('ALLOW', 'DENY', 'MASK', 'Subscriber.msisdn', 'sub-000001', 'CONSENT_REQUIRED'), fc.string({ unit: 'binary', maxLength: 8 }));
  const decision = fc.record(
    {
      subscriberId: text,
      coordinate: text,
      effect: text,
      reason: text,
      strategy: text,
      consentEventId: text,
      count: fc.oneof(fc.integer(), fc.double()),
    },
    { requiredKeys: ['subscriberId', 'coordinate', 'effect', 'count'] },
  );
  // Anything else a decision might hold: another member, a nested value, null, a non-object.
  const odd = fc.oneof(
    fc.record({ subscriberId: text, coordinate: text, effect: text, count: fc.integer(), extra: fc.jsonValue() }),
    fc.record({ subscriberId: fc.jsonValue(), coordinate: text, effect: text, count: fc.integer() }),
    fc.jsonValue(),
  );
  const leaf = fc.record({ v: fc.constant(1), seq: fc.nat(), at: text, requestId: text, caller: fc.jsonValue(), decisions: fc.array(fc.oneof({ arbitrary: decision, weight: 4 }, { arbitrary: odd, weight: 1 }), { maxLength: 8 }) });

  it('writes the same bytes as canonicalJson, and refuses what it refuses', () => {
    fc.assert(
      fc.property(leaf, (value) => {
        let expected: string | Error;
        try {
          expected = canonicalJson(value);
        } catch (err) {
          expected = err as Error;
        }
        if (expected instanceof Error) expect(() => canonicalLeaf(value)).toThrow(expected.message);
        else expect(canonicalLeaf(value)).toBe(expected);
      }),
      { numRuns: 3000 },
    );
  });

  it.each<[string, unknown]>([
    ['members in code-unit order, absent ones left out', { decisions: [{ subscriberId: 's', effect: 'DENY', count: 2, coordinate: 'T.f', reason: 'MINOR', strategy: undefined }] }],
    ['a repeated string escaped alike each time', { decisions: [{ subscriberId: 'a"b', coordinate: 'T.f', effect: 'ALLOW', count: 1 }, { subscriberId: 'a"b', coordinate: 'T.f', effect: 'ALLOW', count: 1 }] }],
    ['a decision with another member (general path)', { decisions: [{ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1, zz: [1, { b: 1, a: 2 }] }] }],
    ['a decision from another prototype (general path)', { decisions: [Object.assign(Object.create({ inherited: 1 }) as object, { subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 })] }],
    ['no decisions member', { at: 'x' }],
  ])('%s', (_name, value) => {
    expect(canonicalLeaf(value as { decisions?: unknown })).toBe(canonicalJson(value));
    expect(canonicalLeaf(value as { decisions?: unknown })).toBe(reference(JSON.parse(JSON.stringify(value))));
  });

  it.each<[string, unknown]>([
    ['an unpaired surrogate in a decision', { decisions: [{ subscriberId: String.fromCharCode(0xd800), coordinate: 'T.f', effect: 'ALLOW', count: 1 }] }],
    ['a count that is not finite', { decisions: [{ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: Number.NaN }] }],
  ])('refuses %s', (_name, value) => {
    expect(() => canonicalLeaf(value as { decisions?: unknown })).toThrow();
  });
});
