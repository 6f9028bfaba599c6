import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { EnforcementContext } from '../../shield/index.js';
import { batchBySubscriber } from '../batchBySubscriber.js';
import { subscriberReference } from '../entityReference.js';
import type { SubgraphDeps } from '../SubgraphDeps.js';

interface AccountRow {
  subscriber_id: string;
  balance: number;
  currency: string;
  card_brand: string | null;
  card_last4: string | null;
  card_expiry: string | null;
}

interface InvoiceRow {
  id: string;
  subscriber_id: string;
  period: string;
  amount: number;
}

/** Resolvers of the `billing` subgraph. */
export function billingResolvers(deps: SubgraphDeps): GraphQLResolverMap<EnforcementContext> {
  const { db } = deps;
  return {
    Subscriber: {
      __resolveReference: subscriberReference(deps),
      async billingAccount(parent: { id: string }, _: unknown, ctx: EnforcementContext) {
        const [r] = await batchBySubscriber<AccountRow>(
          ctx,
          'billingAccounts',
          db,
          'SELECT * FROM billing_accounts WHERE subscriber_id = ANY($1::text[])',
        ).load(parent.id);
        if (!r) return null;
        return {
          subscriberId: r.subscriber_id,
          balance: r.balance,
          currency: r.currency,
          paymentCard: r.card_last4 === null ? null : { subscriberId: r.subscriber_id, brand: r.card_brand, last4: r.card_last4, expiry: r.card_expiry },
        };
      },
    },
    BillingAccount: {
      async invoices(parent: { subscriberId: string }, _: unknown, ctx: EnforcementContext) {
        const rows = await batchBySubscriber<InvoiceRow>(
          ctx,
          'invoices',
          db,
          'SELECT * FROM invoices WHERE subscriber_id = ANY($1::text[]) ORDER BY subscriber_id, period DESC',
        ).load(parent.subscriberId);
        return rows.map((r) => ({ subscriberId: r.subscriber_id, id: r.id, period: r.period, amount: r.amount }));
      },
    },
  };
}
