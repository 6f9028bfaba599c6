import { describe, expect, it } from 'vitest';
import type { GraphQLResolveInfo } from 'graphql';
import { readPolicyMap } from '../../directives/index.js';
import type { LoadedSubject } from '../../src/consent/index.js';
import { buildRules, DecisionLog, type EnforcementContext, type RequestScope } from '../../src/shield/index.js';
import { loadPolicySources } from '../../src/subgraphs/index.js';

// A field's rule counts a repeated (request, subscriber) value without a lookup (buildRules): the
// counts and verdicts must be exactly those of deciding every value, whatever interleaves.
const sources = loadPolicySources();
const policy = readPolicyMap(sources.subgraphs.get('usage')!, sources.registry);
const tree = buildRules(policy, sources.registry);
type RuleFn = (parent: unknown, args: unknown, ctx: EnforcementContext, info: GraphQLResolveInfo) => unknown;
const ruleOf = (type: string, field: string) => (tree[type][field] as unknown as { func: RuleFn }).func;

const subject = (id: string, consents: Array<[string, 'GRANT' | 'WITHDRAW']> = []): LoadedSubject => ({
  status: 'found',
  subject: { id, agencyId: 'agency-north', dateOfBirth: '1980-01-01', directoryListing: 'LISTED' },
  consents: new Map(consents.map(([purpose, action], i) => [purpose, { id: String(i + 1), action, at: '2026-01-01T00:00:00.000Z' }])),
});

function context(purpose: string, subjects: Record<string, LoadedSubject>): EnforcementContext {
  const scope: RequestScope = { requestId: `r-${Math.random()}`, caller: { sub: 'svc', kind: 'internal', purposes: [purpose] } as RequestScope['caller'], purpose, at: '2026-06-01T00:00:00.000Z', decisions: new DecisionLog() };
  const loader = { peek: (id: string) => subjects[id], load: async (id: string) => subjects[id] ?? { status: 'not_found' } };
  return { scope, subgraph: 'usage', subjects: loader as unknown as EnforcementContext['subjects'], loaders: new Map() };
}
const info = (i: number) => ({ path: { prev: { prev: undefined, key: i, typename: undefined }, key: 'durationSeconds', typename: 'CallDetailRecord' } }) as unknown as GraphQLResolveInfo;

describe('field rules: a repeated value is counted, not decided again', () => {
  it('counts each request and subscriber apart when values of two requests and two subscribers interleave', () => {
    const rule = ruleOf('CallDetailRecord', 'durationSeconds');
    const subjects = { 'sub-1': subject('sub-1', [['MARKETING', 'GRANT']]), 'sub-2': subject('sub-2') };
    const a = context('MARKETING', subjects);
    const b = context('MARKETING', subjects);
    const order: Array<[EnforcementContext, string]> = [];
    for (let i = 0; i < 5; i++) order.push([a, 'sub-1'], [a, 'sub-1'], [b, 'sub-1'], [a, 'sub-2'], [b, 'sub-2'], [b, 'sub-2']);
    const verdicts = order.map(([ctx, id], i) => rule({ subscriberId: id }, {}, ctx, info(i)));
    // sub-1 consented to MARKETING, sub-2 did not: every sub-2 value is its own located denial.
    order.forEach(([, id], i) => {
      if (id === 'sub-1') expect(verdicts[i]).toBe(true);
      else expect(verdicts[i]).toMatchObject({ path: [i, 'durationSeconds'], extensions: { code: 'FORBIDDEN', reason: 'CONSENT_REQUIRED' } });
    });
    const counts = (ctx: EnforcementContext) => ctx.scope.decisions.list().map((e) => [e.subscriberId, e.effect, e.count]);
    expect(counts(a)).toEqual([['sub-1', 'ALLOW', 10], ['sub-2', 'DENY', 5]]);
    expect(counts(b)).toEqual([['sub-1', 'ALLOW', 5], ['sub-2', 'DENY', 10]]);
  });

  it('counts a statically denied field and an allowed one of the same subscriber each under its own coordinate', () => {
    const called = ruleOf('CallDetailRecord', 'calledNumber');
    const duration = ruleOf('CallDetailRecord', 'durationSeconds');
    const ctx = context('MARKETING', { 'sub-1': subject('sub-1', [['MARKETING', 'GRANT']]) });
    for (let i = 0; i < 3; i++) {
      expect(called({ subscriberId: 'sub-1' }, {}, ctx, info(i))).toMatchObject({ extensions: { reason: 'PURPOSE_NOT_ALLOWED' } });
      expect(duration({ subscriberId: 'sub-1' }, {}, ctx, info(i))).toBe(true);
    }
    expect(ctx.scope.decisions.list().map((e) => [e.coordinate, e.effect, e.count])).toEqual([
      ['CallDetailRecord.calledNumber', 'DENY', 3],
      ['CallDetailRecord.durationSeconds', 'ALLOW', 3],
    ]);
  });
});
