import canonicalize from 'canonicalize';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, canonicalLeaf, canonicalLeafBytes } from '../../src/audit/canonicalJson.js';

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
  const lone = fc.constantFrom(String.fromCharCode(0xd800), String.fromCharCode(0xdfff), `a${String.fromCharCode(0xdc00)}`);
  const text = fc.oneof(
    { arbitrary: fc.constantFrom('ALLOW', 'DENY', 'MASK', 'Subscriber.msisdn', 'sub-000001', 'CONSENT_REQUIRED', 'a"b\\c\u0001'), weight: 4 },
    { arbitrary: fc.string({ unit: 'binary', maxLength: 8 }), weight: 4 },
    { arbitrary: lone, weight: 1 },
  );
  const number = fc.oneof({ arbitrary: fc.integer(), weight: 4 }, { arbitrary: fc.double(), weight: 2 }, { arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, -0), weight: 1 });
  const decision = fc.record(
    { subscriberId: text, coordinate: text, effect: text, reason: text, strategy: text, consentEventId: text, count: number },
    { requiredKeys: ['subscriberId', 'coordinate', 'effect', 'count'] },
  );
  // Anything else a decision might hold: another member, a nested value, null, a non-object.
  const odd = fc.oneof(
    fc.record({ subscriberId: text, coordinate: text, effect: text, count: fc.integer(), extra: fc.jsonValue() }),
    fc.record({ subscriberId: fc.jsonValue(), coordinate: text, effect: text, count: fc.integer() }),
    fc.jsonValue(),
  );
  // Errors elsewhere in the leaf too (a lone surrogate in the caller, a non-finite number), so
  // which error comes first is compared as well.
  const leaf = fc.record({
    v: fc.constant(1),
    seq: fc.nat(),
    at: text,
    requestId: text,
    caller: fc.oneof(fc.jsonValue(), fc.record({ sub: text, n: number })),
    decisions: fc.array(fc.oneof({ arbitrary: decision, weight: 4 }, { arbitrary: odd, weight: 1 }), { maxLength: 8 }),
  });

  /** canonicalJson's answer: its text, or the message it throws. */
  function general(value: unknown): string | { error: string } {
    try {
      return canonicalJson(value);
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  function fast(value: object): string | { error: string } {
    try {
      return canonicalLeaf(value);
    } catch (err) {
      return { error: (err as Error).message };
    }
  }

  it('writes the same bytes as canonicalJson, and throws the same error where it throws', () => {
    let refused = 0;
    let beyondAscii = 0;
    fc.assert(
      fc.property(leaf, (value) => {
        const expected = general(value);
        if (typeof expected !== 'string') refused++;
        expect(fast(value)).toEqual(expected);
        // The writer's bytes: the UTF-8 of the same text, or the same error.
        let bytes: Buffer | { error: string };
        try {
          bytes = canonicalLeafBytes(value);
        } catch (err) {
          bytes = { error: (err as Error).message };
        }
        if (typeof expected === 'string') {
          if (/[^\u0000-\u007f]/.test(expected)) beyondAscii++;
          expect(Buffer.isBuffer(bytes) && bytes.equals(Buffer.from(expected, 'utf8'))).toBe(true);
        } else {
          expect(bytes).toEqual(expected);
        }
      }),
      { numRuns: 3000 },
    );
    expect(refused).toBeGreaterThan(100); // the refusals were exercised, not only the happy path
    expect(beyondAscii).toBeGreaterThan(100); // and leaves beyond ASCII, whose bytes are made otherwise
  });

  const withGetter = { subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW' } as Record<string, unknown>;
  let reads = 0;
  Object.defineProperty(withGetter, 'count', { enumerable: true, get: () => (++reads === 1 ? 1 : Number.NaN) });
  // A getter read before a member that is not a string or a number: still read once.
  let coordinateReads = 0;
  const getterThenOther = { subscriberId: 's', effect: true, count: 1 } as Record<string, unknown>;
  Object.defineProperty(getterThenOther, 'coordinate', { enumerable: true, get: () => `c${++coordinateReads}` });
  const hiddenToJson = { subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 };
  Object.defineProperty(hiddenToJson, 'toJSON', { enumerable: false, value: () => 'REPLACED' });
  const hidden = { subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 };
  Object.defineProperty(hidden, 'reason', { enumerable: false, value: { not: 'written' } });
  const arrayWithToJson = Object.assign([{ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 }], { toJSON: () => 'replaced' });
  // eslint-disable-next-line no-sparse-arrays
  const holes = [{ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 }, , { subscriberId: 't', coordinate: 'T.f', effect: 'DENY', count: 2 }];
  it.each<[string, () => object]>([
    ['members in code-unit order, absent ones left out', () => ({ decisions: [{ subscriberId: 's', effect: 'DENY', count: 2, coordinate: 'T.f', reason: 'MINOR', strategy: undefined }] })],
    ['a repeated string escaped alike each time', () => ({ decisions: [{ subscriberId: 'a"b', coordinate: 'T.f', effect: 'ALLOW', count: 1 }, { subscriberId: 'a"b', coordinate: 'T.f', effect: 'ALLOW', count: 1 }] })],
    ['a decision with another member', () => ({ decisions: [{ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1, zz: [1, { b: 1, a: 2 }] }] })],
    ['a decision from another prototype', () => ({ decisions: [Object.assign(Object.create({ inherited: 1 }) as object, { subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 })] })],
    ['a decision with a getter (read once)', () => ({ decisions: [withGetter] })],
    ['a decision with a non-enumerable member', () => ({ decisions: [hidden] })],
    ['a decision with a non-enumerable toJSON', () => ({ decisions: [hiddenToJson] })],
    ['a decision whose toJSON comes from a proxy', () => ({ decisions: [new Proxy({ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 }, { get: (t, k) => (k === 'toJSON' ? () => 'PROXIED' : Reflect.get(t, k)) })] })],
    ['a getter read once though a later member is not a string or number', () => ({ decisions: [getterThenOther] })],
    ['members that are null, booleans, objects or arrays', () => ({ decisions: [{ subscriberId: 's', coordinate: null, effect: true, count: 1, reason: { b: 1, a: [2, 'x'] }, strategy: () => 1 }] })],
    ['decisions with a toJSON', () => ({ decisions: arrayWithToJson })],
    ['decisions with holes', () => ({ decisions: holes })],
    [
      'a getter that shortens the decisions while they are written',
      () => {
        const ds: Array<Record<string, unknown>> = [];
        const first = { subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW' } as Record<string, unknown>;
        Object.defineProperty(first, 'count', { enumerable: true, get: () => ((ds.length = 1), 1) });
        ds.push(first, { subscriberId: 't', coordinate: 'T.f', effect: 'DENY', count: 2 });
        return { decisions: ds };
      },
    ],
    ['no decisions member', () => ({ at: 'x' })],
    ['decisions that are not an array', () => ({ decisions: { a: 1 } })],
    ['errors in the caller and in a decision: the caller comes first', () => ({ caller: { n: Number.NaN }, decisions: [{ subscriberId: String.fromCharCode(0xd800), coordinate: 'T.f', effect: 'ALLOW', count: 1 }] })],
  ])('%s', (_name, make) => {
    reads = 0;
    coordinateReads = 0;
    const expected = general(make());
    reads = 0;
    coordinateReads = 0;
    expect(fast(make())).toEqual(expected);
  });

  it('ignores members inherited from a polluted Object.prototype, as canonicalJson does', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.reason = 'INJECTED';
    try {
      const value = { decisions: [{ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: 1 }] };
      expect(canonicalLeaf(value)).toBe(canonicalJson(value));
      expect(canonicalLeaf(value)).not.toContain('INJECTED');
    } finally {
      delete proto.reason;
    }
  });

  it.each<[string, object]>([
    ['Object.prototype', Object.prototype],
    ['Array.prototype', Array.prototype],
  ])('writes the values it read when a getter gives %s a toJSON meanwhile', (_name, proto) => {
    const make = () => {
      const first = { subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW' } as Record<string, unknown>;
      Object.defineProperty(first, 'count', {
        enumerable: true,
        get: () => {
          Object.defineProperty(proto, 'toJSON', { configurable: true, writable: true, value: () => 'HIJACKED' });
          return 1;
        },
      });
      return { decisions: [first] };
    };
    try {
      const expected = general(make());
      delete (proto as { toJSON?: unknown }).toJSON;
      const got = fast(make());
      expect(got).toEqual(expected);
      expect(JSON.stringify(got)).not.toContain('HIJACKED');
    } finally {
      delete (proto as { toJSON?: unknown }).toJSON;
    }
  });

  it.each<[string, object]>([
    ['an unpaired surrogate in a decision', { decisions: [{ subscriberId: String.fromCharCode(0xd800), coordinate: 'T.f', effect: 'ALLOW', count: 1 }] }],
    ['a count that is not finite', { decisions: [{ subscriberId: 's', coordinate: 'T.f', effect: 'ALLOW', count: Number.NaN }] }],
  ])('refuses %s with canonicalJson\'s message', (_name, value) => {
    expect(() => canonicalLeaf(value)).toThrow((general(value) as { error: string }).error);
  });
});
