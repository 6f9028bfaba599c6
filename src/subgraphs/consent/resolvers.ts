import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { GraphQLError } from 'graphql';
import { assertConsentBased, NotConsentBasedError, recordConsent, UnknownSubscriberError } from '../../consent/index.js';
import type { FieldPolicy } from '../../policy/index.js';
import type { EnforcementContext } from '../../shield/index.js';
import { subscriberReference } from '../entityReference.js';
import { guardSubject } from '../guardSubject.js';
import type { MutationGrantConsentArgs } from '../../generated/types.js';
import type { SubgraphDeps } from '../SubgraphDeps.js';

/** Resolvers of the `consent` subgraph: current consent state and the consent mutations. */
export function consentResolvers(deps: SubgraphDeps): GraphQLResolverMap<EnforcementContext> {
  const { db, sources, policy: policyMap } = deps;
  const write = (action: 'GRANT' | 'WITHDRAW', field: string) => {
    // Who may record consent is the mutation's own @purpose (CONSENT_MANAGEMENT, SUBJECT_ACCESS);
    // decide() adds the scope rules (own agency, own record).
    const policy: FieldPolicy | undefined = policyMap.field('Mutation', field);
    if (!policy) throw new Error(`"Mutation.${field}" has no @purpose: refusing to serve it.`);
    return async (_: unknown, args: MutationGrantConsentArgs, ctx: EnforcementContext) => {
      if (deps.enforce) await guardSubject(sources.registry, ctx, policy, args.subscriberId);
      try {
        // After the caller's own rights (so an unauthorised caller learns nothing new), before any write.
        assertConsentBased(sources.registry, args.purpose);
        const record = await recordConsent(db, {
          subscriberId: args.subscriberId,
          purpose: args.purpose,
          action,
          source: args.source ?? 'api',
          evidence: { requestId: ctx.scope.requestId, caller: ctx.scope.caller.sub, purpose: ctx.scope.purpose },
        });
        return { ...record, subscriberId: record.subscriberId };
      } catch (err) {
        if (err instanceof UnknownSubscriberError) throw new GraphQLError(err.message, { extensions: { code: 'NOT_FOUND' } });
        if (err instanceof NotConsentBasedError) throw new GraphQLError(err.message, { extensions: { code: 'BAD_USER_INPUT' } });
        throw err;
      }
    };
  };
  return {
    Mutation: {
      grantConsent: write('GRANT', 'grantConsent'),
      withdrawConsent: write('WITHDRAW', 'withdrawConsent'),
    },
    Subscriber: {
      __resolveReference: subscriberReference(deps),
      async consents(parent: { id: string }, _: unknown, ctx: EnforcementContext) {
        const s = ctx.subjects.peek(parent.id) ?? (await ctx.subjects.load(parent.id));
        if (s.status !== 'found') return null;
        const list = (s.latest ?? []).map((e) => ({
          subscriberId: parent.id,
          purpose: e.purpose,
          state: e.action === 'GRANT' ? 'GRANTED' : 'WITHDRAWN',
          source: e.source,
          at: e.at,
        }));
        if (s.subject.directoryListing === 'UNLISTED') {
          // The standing withdrawal an unlisted number carries (SPEC §3). It is the current
          // DIRECTORY_SERVICES state whatever the events say (no GRANT overrides it), so it
          // replaces their entry: one state per purpose, never GRANTED beside WITHDRAWN.
          const i = list.findIndex((c) => c.purpose === 'DIRECTORY_SERVICES');
          if (i >= 0) list.splice(i, 1);
          list.push({ subscriberId: parent.id, purpose: 'DIRECTORY_SERVICES', state: 'WITHDRAWN', source: 'directory-listing', at: null as unknown as string });
        }
        return list.sort((a, b) => a.purpose.localeCompare(b.purpose));
      },
    },
  };
}
