import DataLoader from 'dataloader';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import { purposeAllows } from '../../policy/index.js';
import { forbidden, loaderFor, type EnforcementContext } from '../../shield/index.js';
import { pageSize } from '../cursor.js';
import { guardSubject } from '../guardSubject.js';
import type { QuerySubscriberArgs, QuerySubscriberByMsisdnArgs, QuerySubscribersArgs } from '../../generated/types.js';
import type { SubgraphDeps } from '../SubgraphDeps.js';

interface SubscriberRow {
  id: string;
  msisdn: string;
  full_name: string;
  email: string | null;
  postal_address: string | null;
  dob: string | null;
  agency_id: string;
  directory_listing: string;
}

const COLUMNS = `id, msisdn, full_name, email, postal_address, to_char(date_of_birth, 'YYYY-MM-DD') AS dob, agency_id, directory_listing`;

function toSubscriber(r: SubscriberRow) {
  return {
    id: r.id,
    msisdn: r.msisdn,
    fullName: r.full_name,
    email: r.email,
    postalAddress: r.postal_address,
    dateOfBirth: r.dob,
    agencyId: r.agency_id,
    directoryListing: r.directory_listing,
  };
}

/** Resolvers of the `subscribers` subgraph: identity, lookup and scoped listing. */
export function subscribersResolvers(deps: SubgraphDeps): GraphQLResolverMap<EnforcementContext> {
  const { db, sources, policy, maxFirst, cursors } = deps;
  const idField = policy.field('Subscriber', 'id')!;
  const msisdnField = policy.field('Subscriber', 'msisdn')!;
  const byId = (ctx: EnforcementContext) =>
    loaderFor(ctx, 'subscriberById', () =>
      // Results in key order, same length as the keys (null when absent).
      new DataLoader<string, SubscriberRow | null>(async (ids) => {
        const { rows } = await db.query<SubscriberRow>(`SELECT ${COLUMNS} FROM subscribers WHERE id = ANY($1::text[])`, [ids as string[]]);
        const map = new Map(rows.map((r) => [r.id, r]));
        return ids.map((id) => map.get(id) ?? null);
      }),
    );

  /**
   * A scoped caller gets the same answer for "absent" as for "someone else's": no enumeration. The
   * denial is logged like any other when the asked id is known (a number that matches nobody is
   * not written to the log: it is a value).
   */
  const notFound = (ctx: EnforcementContext, coordinate: string, id?: string) => {
    const { caller, purpose } = ctx.scope;
    if (caller.kind === 'partner' || caller.kind === 'agent' || caller.kind === 'subscriber' || purpose === 'SUBJECT_ACCESS') {
      if (id !== undefined) ctx.scope.decisions.record(id, coordinate, { effect: 'DENY', reason: 'OUT_OF_SCOPE' });
      throw forbidden(coordinate, purpose, 'OUT_OF_SCOPE');
    }
    return null;
  };
  const lookup = async (ctx: EnforcementContext, id: string) => {
    const row = await byId(ctx).load(id);
    if (!row) return notFound(ctx, idField.coordinate, id);
    if (deps.enforce) await guardSubject(sources.registry, ctx, idField, id);
    return toSubscriber(row);
  };

  return {
    Query: {
      subscriber: (_: unknown, { id }: QuerySubscriberArgs, ctx: EnforcementContext) => lookup(ctx, id),
      node: (_: unknown, { id }: { id: string }, ctx: EnforcementContext) => lookup(ctx, id),
      async subscriberByMsisdn(_: unknown, { msisdn }: QuerySubscriberByMsisdnArgs, ctx: EnforcementContext) {
        // Looking a subscriber up by number is reading that number: the purpose must allow it,
        // checked before the lookup so the answer does not tell whether the number exists.
        if (deps.enforce && !purposeAllows(sources.registry, msisdnField, ctx.scope.purpose)) throw forbidden(msisdnField.coordinate, ctx.scope.purpose, 'PURPOSE_NOT_ALLOWED');
        const { rows } = await db.query<SubscriberRow>(`SELECT ${COLUMNS} FROM subscribers WHERE msisdn = $1`, [msisdn]);
        const row = rows[0];
        if (!row) return notFound(ctx, msisdnField.coordinate);
        if (deps.enforce) await guardSubject(sources.registry, ctx, msisdnField, row.id);
        return toSubscriber(row);
      },
      async subscribers(_: unknown, args: QuerySubscribersArgs, ctx: EnforcementContext) {
        const first = pageSize(args.first, 20, maxFirst);
        const after = args.after ? cursors.open(args.after, 1)[0] : '';
        const { caller, purpose } = ctx.scope;
        const params: unknown[] = [after, first + 1];
        let scope = '';
        if (caller.kind === 'partner' || caller.kind === 'agent') {
          params.push(caller.agency ?? '\u0000');
          scope += ` AND agency_id = $${params.length}`;
        }
        if (caller.kind === 'subscriber' || purpose === 'SUBJECT_ACCESS') {
          params.push(caller.sub);
          scope += ` AND id = $${params.length}`;
        }
        const { rows } = await db.query<SubscriberRow>(
          `SELECT ${COLUMNS} FROM subscribers WHERE id > $1${scope} ORDER BY id LIMIT $2`,
          params,
        );
        const page = rows.slice(0, first);
        if (deps.enforce) await ctx.subjects.prime(page.map((r) => r.id));
        const nodes = page.map(toSubscriber);
        return {
          nodes,
          pageInfo: { endCursor: page.length ? cursors.seal([page[page.length - 1].id]) : null, hasNextPage: rows.length > first },
        };
      },
    },
    Node: {
      __resolveType: () => 'Subscriber',
    },
    Subscriber: {
      async __resolveReference(ref: { id: string }, ctx: EnforcementContext) {
        const [row] = await Promise.all([byId(ctx).load(ref.id), deps.enforce ? ctx.subjects.load(ref.id) : undefined]);
        return row ? toSubscriber(row) : null;
      },
    },
  };
}
