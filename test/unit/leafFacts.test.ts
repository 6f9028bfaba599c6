import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { canonicalLeaf } from '../../src/audit/canonicalJson.js';
import { canonicalFacts, leafFacts, parsedFacts } from '../../src/audit/leafFacts.js';

// Any text, escapes and unpaired surrogates included (canonicalLeaf refuses the latter: such
// leaves are skipped), with the characters that matter to the fast path's split made common.
const text = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.string({ unit: fc.constantFrom('"', '\\', ',', ':', '[', ']', '{', '}', 'd', '\u0000', '\n', '\u2028', 'é'), maxLength: 10 }),
  fc.constantFrom(',"decisions":[', '"decisions"', 'sub-000001', '],"documentHash":'),
);
const maybe = <T,>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
/** The same texts without the characters JSON escapes: the leaves the fast path takes. */
const plain = text.map((s) => s.replace(/["\\\u0000-\u001f]/g, ''));

/** Leaves as the writer is handed them, their strings drawn from `text`. */
function leafOf(text: fc.Arbitrary<string>, act: fc.Arbitrary<unknown>) {
  const decision = fc.record(
    {
      subscriberId: text,
      coordinate: maybe(text),
      effect: maybe(fc.constantFrom('ALLOW', 'MASK', 'DENY')),
      reason: maybe(text),
      strategy: maybe(text),
      consentEventId: maybe(text),
      count: maybe(fc.integer({ min: -5, max: 1_000_000 })),
    },
    { requiredKeys: ['subscriberId'] },
  );
  return fc.record({
    v: fc.constant(1),
    logId: text,
    seq: fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)),
    recordId: text,
    at: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), text),
    requestId: text,
    caller: fc.option(
      fc.record(
        { sub: text, kind: text, agency: maybe(text), jti: maybe(text), purposes: maybe(fc.array(text, { maxLength: 3 })), act: maybe(act) },
        { requiredKeys: ['sub', 'kind'] },
      ),
    ),
    purpose: fc.option(text),
    ref: fc.option(text),
    operationName: fc.option(text),
    documentHash: fc.option(text),
    policyVersion: text,
    rejection: fc.option(fc.record({ code: text, status: fc.integer({ min: 100, max: 599 }) })),
    decisions: fc.array(decision, { maxLength: 40 }),
  });
}
const anyJson = fc.jsonValue({ maxDepth: 3 });
const leaf = leafOf(text, anyJson);
/** Leaves without a character JSON escapes: the ones the fast path takes. */
const plainLeaf = leafOf(plain, anyJson.filter((v) => !JSON.stringify(v).includes('\\')));

/** The writer's bytes for a leaf, or undefined when it refuses one (unpaired surrogates). */
function written(value: object): string | undefined {
  try {
    return canonicalLeaf(value);
  } catch {
    return undefined;
  }
}

describe('leafFacts: the canonical fast path and JSON.parse agree', () => {
  it('reads every leaf the writer writes without an escape by the fast path, with the facts JSON.parse gives', () => {
    let read = 0;
    fc.assert(
      fc.property(plainLeaf, (value) => {
        const body = written(value);
        if (body === undefined) return;
        const facts = canonicalFacts(body);
        expect(facts).toBeDefined();
        expect(facts).toEqual(parsedFacts(body));
        read++;
      }),
      { numRuns: 3000 },
    );
    expect(read).toBeGreaterThan(1000);
  });

  it('leaves every body with an escape to JSON.parse', () => {
    let escaped = 0;
    fc.assert(
      fc.property(leaf, (value) => {
        const body = written(value);
        if (body === undefined) return;
        if (body.includes('\\')) {
          escaped++;
          expect(canonicalFacts(body)).toBeUndefined();
        }
        expect(leafFacts(body)).toEqual(parsedFacts(body));
      }),
      { numRuns: 2000 },
    );
    expect(escaped).toBeGreaterThan(500);
  });

  it('gives the facts JSON.parse gives, or none, for a damaged body (a character replaced, inserted or removed, a span repeated)', () => {
    // Leaves without escapes, damaged: the fast path would take most of them whole.
    const damage = fc.tuple(
      plainLeaf,
      fc.constantFrom('replace', 'insert', 'remove', 'repeat'),
      fc.nat(),
      fc.nat({ max: 40 }),
      fc.constantFrom('"', '\\', ',', ':', '[', ']', '{', '}', ' ', '0', '1', '-', 'n', 'x', '\u0000', '\ud800'),
    );
    let accepted = 0;
    fc.assert(
      fc.property(damage, ([value, how, at, length, char]) => {
        const body = written(value);
        if (body === undefined || body.length === 0) return;
        const i = at % body.length;
        const damaged =
          how === 'replace' ? body.slice(0, i) + char + body.slice(i + 1)
          : how === 'insert' ? body.slice(0, i) + char + body.slice(i)
          : how === 'remove' ? body.slice(0, i) + body.slice(i + 1)
          : body.slice(0, i + length) + body.slice(i, i + length) + body.slice(i + length);
        const facts = canonicalFacts(damaged);
        if (facts === undefined) return;
        accepted++;
        expect(facts).toEqual(parsedFacts(damaged));
      }),
      { numRuns: 6000 },
    );
    // Many damages leave the body valid (a letter in a string replaced): the comparison ran.
    expect(accepted).toBeGreaterThan(500);
  });

  const writtenLeaf = (over: Record<string, unknown> = {}) =>
    canonicalLeaf({
      v: 1, logId: 'gw-1', seq: 7, recordId: 'gw-1-7', at: '2026-11-26T10:00:00.000Z', requestId: 'req-7',
      caller: { sub: 'svc', kind: 'internal' }, purpose: 'BILLING', ref: null, operationName: null, documentHash: null,
      policyVersion: 'ab', rejection: null, decisions: [{ subscriberId: 'sub-1', coordinate: 'Subscriber.msisdn', effect: 'ALLOW', count: 1 }],
      ...over,
    });
  const genuine = writtenLeaf();

  it.each<[string, string, 'fast' | 'parse']>([
    ['a leaf as the writer writes it', genuine, 'fast'],
    ['escaped subscriber ids (left to JSON.parse)', writtenLeaf({ decisions: [{ subscriberId: 'a"b\\c\u0001\u00e9' }, { subscriberId: 'a"b\\c\u0001\u00e9' }, { subscriberId: 'x' }] }), 'parse'],
    ['an escape anywhere else', writtenLeaf({ ref: 'say "hi"' }), 'parse'],
    ['characters JSON does not escape', writtenLeaf({ decisions: [{ subscriberId: 'é/€\ud83d\ude00\u007f' }] }), 'fast'],
    ['no decisions', writtenLeaf({ decisions: [] }), 'fast'],
    ['runs of decisions about one subscriber, ids that extend each other', writtenLeaf({ decisions: [{ subscriberId: 'sub-1' }, { subscriberId: 'sub-1' }, { subscriberId: 'sub-10' }, { subscriberId: 'sub-1' }, { subscriberId: 'sub-' }, { subscriberId: '' }, { subscriberId: '' }] }), 'fast'],
    ['a rejection and no caller or purpose', writtenLeaf({ rejection: { code: 'PURPOSE_REQUIRED', status: 400 }, caller: null, purpose: null }), 'fast'],
    ['the split text inside a string before the decisions (escaped, so left to JSON.parse)', writtenLeaf({ at: ',"decisions":[{"subscriberId":"forged"}],' }), 'parse'],
    ['a decisions member nested in the caller', writtenLeaf({ caller: { sub: 's', kind: 'k', act: { decisions: [{ subscriberId: 'nested' }] } } }), 'fast'],
    ['a caller with every plain member', writtenLeaf({ caller: { sub: 's', kind: 'k', agency: 'a', jti: 'j', purposes: ['BILLING', 'MARKETING'] } }), 'fast'],
    ['a caller with no purposes', writtenLeaf({ caller: { sub: 's', kind: 'k', purposes: [] } }), 'fast'],
    ['a caller as the gateway writes it, then repeated as null (the last kept)', writtenLeaf({ caller: { sub: 's', kind: 'k', purposes: ['BILLING'] } }).replace(',"decisions":[', ',"caller":null,"decisions":['), 'fast'],
    ['a caller purpose that is a number', writtenLeaf({ caller: { sub: 's', kind: 'k', purposes: ['BILLING'] } }).replace('["BILLING"]', '[1]'), 'fast'],
    ['a caller sub that is a number', writtenLeaf({ caller: { sub: 's', kind: 'k', purposes: ['BILLING'] } }).replace('"sub":"s"', '"sub":5'), 'fast'],
    ['a time that is a number', writtenLeaf({ caller: { sub: 's', kind: 'k', purposes: [] } }).replace('"at":"2026-11-26T10:00:00.000Z"', '"at":5'), 'fast'],
    ['a caller left open before the decisions', writtenLeaf({ caller: { sub: 's', kind: 'k', purposes: [] } }).replace('"sub":"s"},"decisions"', '"sub":"s","decisions"'), 'parse'],
    ['an earlier decisions member of another type (JSON.parse keeps the later one)', genuine.replace('{"at":', '{"decisions":5,"at":'), 'fast'],
    ['a member repeated before the decisions (the last kept)', genuine.replace('{"at":', '{"at":"2020-01-01T00:00:00.000Z","at":'), 'fast'],
    ['an empty object before the decisions', genuine.replace(/^\{.*?,"decisions":\[/, '{,"decisions":['), 'parse'],
    ['whitespace after the last brace', `${genuine} `, 'parse'],
    ['whitespace between members after the decisions', genuine.replace(',"logId"', ', "logId"'), 'parse'],
    ['a member after the decisions repeated', genuine.replace(',"v":1}', ',"v":1,"logId":"other"}'), 'parse'],
    ['another version', genuine.replace(',"v":1}', ',"v":2}'), 'parse'],
    ['a fractional count', genuine.replace('"count":1', '"count":1.5'), 'parse'],
    ['a subscriber id that is a number', genuine.replace('"subscriberId":"sub-1"', '"subscriberId":1'), 'parse'],
    ['a raw control character in a string', genuine.replace('sub-1', 'sub-\u0001'), 'parse'],
    ['a position written -0', genuine.replace('"seq":7', '"seq":-0'), 'fast'],
    ['a position beyond 2^53', genuine.replace('"seq":7', '"seq":123456789012345678901234567890'), 'fast'],
    ['an array', `[${genuine}]`, 'parse'],
    ['a 200,000-character subscriber id', writtenLeaf({ decisions: [{ subscriberId: 'x'.repeat(200_000) }] }), 'fast'],
    ['a million escapes in one string (JSON.parse reads it)', writtenLeaf({ decisions: [{ subscriberId: '\u0001'.repeat(1_000_000) }] }), 'parse'],
  ])('%s', (_name, body, path) => {
    const fast = canonicalFacts(body);
    if (path === 'fast') {
      expect(fast).toBeDefined();
      expect(fast).toEqual(parsedFacts(body));
    } else {
      expect(fast).toBeUndefined();
    }
    expect(leafFacts(body)).toEqual(parsedFacts(body));
  });

  it('reports a body that is not JSON, or not an object (an array is one: verify then finds its position missing)', () => {
    expect(leafFacts(genuine.slice(0, -1))).toBe('not JSON');
    expect(leafFacts('')).toBe('not JSON');
    for (const body of ['null', '1', '"x"', 'true']) expect(leafFacts(body)).toBe('not an object');
    expect(leafFacts('[1,2]')).toMatchObject({ logId: undefined, seq: undefined, subscriberIds: [] });
  });

  it('reads a leaf as the gateway writes it (a caller with purposes) without JSON.parse', () => {
    const body = writtenLeaf({ caller: { sub: 'svc', kind: 'internal', purposes: ['BILLING', 'MARKETING'] }, decisions: [{ subscriberId: 'sub-1', count: 1 }, { subscriberId: 'sub-1', count: 2 }] });
    const expected = parsedFacts(body);
    const parse = vi.spyOn(JSON, 'parse');
    try {
      expect(canonicalFacts(body)).toEqual(expected);
      expect(parse).not.toHaveBeenCalled();
      // A caller of another shape (here with no purposes) is still read, through JSON.parse.
      expect(canonicalFacts(writtenLeaf())).toBeDefined();
      expect(parse).toHaveBeenCalledTimes(1);
    } finally {
      parse.mockRestore();
    }
  });

  it('reads each subscriber once, in order of first appearance, across runs of decisions', () => {
    const body = writtenLeaf({ decisions: ['sub-1', 'sub-1', 'sub-10', 'sub-1', 'sub-', 'sub-10', 'sub-2', 'sub-2'].map((subscriberId) => ({ subscriberId, count: 1 })) });
    expect(canonicalFacts(body)?.subscriberIds).toEqual(['sub-1', 'sub-10', 'sub-', 'sub-2']);
  });

  it('reads the facts a record is checked against', () => {
    expect(canonicalFacts(writtenLeaf({ decisions: [{ subscriberId: 'b' }, { subscriberId: 'a' }, { subscriberId: 'b' }] }))).toEqual({
      logId: 'gw-1',
      seq: 7,
      recordId: 'gw-1-7',
      at: '2026-11-26T10:00:00.000Z',
      purpose: 'BILLING',
      callerSub: 'svc',
      callerKind: 'internal',
      rejectionCode: null,
      subscriberIds: ['b', 'a'],
    });
  });
});
