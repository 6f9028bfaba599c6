import { describe, expect, it } from 'vitest';
import { locateDenials, type DenialSink } from '../../src/gateway/locateDenials.js';

const denial = (path: Array<string | number>, coordinate = 'Subscriber.email') => ({
  message: `Purpose "MARKETING" may not read "${coordinate}": the subscriber has not consented.`,
  path,
  locations: [{ line: 1, column: 2 }],
  extensions: { code: 'FORBIDDEN', reason: 'CONSENT_REQUIRED', coordinate },
});
const sink = (): DenialSink => ({ fetched: Object.create(null), denials: [] });
const ENTITIES = { representations: [{ __typename: 'Subscriber', id: 'a' }] };

describe('locateDenials', () => {
  it('locates a root fetch\u2019s denials under the root, shaped as clients get them, and keeps other errors for Apollo Gateway', () => {
    const s = sink();
    const other = { message: 'boom', path: ['subscriber', 'x'], extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    const out = locateDenials({ data: { subscriber: { email: null } }, errors: [denial(['subscriber', 'email']), other] }, undefined, [], s);
    expect(out.errors).toEqual([other]);
    expect(s.denials).toEqual([
      { message: denial([]).message, extensions: { code: 'FORBIDDEN', reason: 'CONSENT_REQUIRED', coordinate: 'Subscriber.email' }, path: ['subscriber', 'email'] },
    ]);
    expect(JSON.stringify(s.denials[0])).not.toContain('locations');
  });

  it('maps an entity fetch\u2019s _entities index to the entity\u2019s path, skipping null items as Apollo Gateway does', () => {
    const s = sink();
    const nodes = [{ id: 'a' }, null, { id: 'b' }, { id: 'c' }];
    locateDenials({ data: { subscribers: { nodes } } }, undefined, [], s);
    const out = locateDenials(
      { data: { _entities: [{}, {}, {}] }, errors: [denial(['_entities', 1, 'lastKnownLocation', 'latitude'], 'Location.latitude'), denial(['_entities', 2, 'email'])] },
      { representations: [{}, {}, {}] },
      ['subscribers', 'nodes', '@'],
      s,
    );
    expect(out.errors).toBeUndefined();
    expect(s.denials.map((d) => d.path)).toEqual([
      ['subscribers', 'nodes', 2, 'lastKnownLocation', 'latitude'],
      ['subscribers', 'nodes', 3, 'email'],
    ]);
  });

  it('follows objects that later fetches merged into the root data (nested lists, a second root fetch)', () => {
    const s = sink();
    const subscriber = { devices: null as unknown };
    locateDenials({ data: { subscriber } }, undefined, [], s);
    locateDenials({ data: { other: { id: 'x' } } }, undefined, [], s);
    subscriber.devices = [{ imei: 'x' }, { imei: 'y' }]; // what Apollo Gateway's merge of an entity fetch does
    locateDenials({ data: { _entities: [{}, {}] }, errors: [denial(['_entities', 1, 'imei'], 'Device.imei')] }, ENTITIES, ['subscriber', 'devices', '@'], s);
    expect(s.denials.map((d) => d.path)).toEqual([['subscriber', 'devices', 1, 'imei']]);
    expect(Object.keys(s.fetched)).toEqual(['subscriber', 'other']);
  });

  it('treats a root fetch with a client variable named "representations" as a root fetch', () => {
    const s = sink();
    locateDenials({ data: { subscriber: null }, errors: [denial(['subscriber', 1, 'email'])] }, { representations: [1, 2] }, [], s);
    expect(s.denials.map((d) => d.path)).toEqual([['subscriber', 1, 'email']]);
  });

  it('leaves an answer without denials untouched (same object)', () => {
    const s = sink();
    const answer = { data: { a: 1 }, errors: [{ message: 'x', extensions: { code: 'BAD_USER_INPUT' } }] };
    expect(locateDenials(answer, undefined, [], s)).toBe(answer);
    const noPath = { data: null, errors: [{ message: 'x', extensions: { code: 'FORBIDDEN' } }] };
    expect(locateDenials(noPath, undefined, [], s)).toBe(noPath);
    expect(s.denials).toEqual([]);
  });
});
