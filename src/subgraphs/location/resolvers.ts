import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { EnforcementContext } from '../../shield/index.js';
import { batchBySubscriber } from '../batchBySubscriber.js';
import { subscriberReference } from '../entityReference.js';
import type { SubgraphDeps } from '../SubgraphDeps.js';

interface LocationRow {
  subscriber_id: string;
  cell_id: string;
  latitude: number;
  longitude: number;
  accuracy_meters: number;
  observed_at: Date | string;
}

/** Resolvers of the `location` subgraph. */
export function locationResolvers(deps: SubgraphDeps): GraphQLResolverMap<EnforcementContext> {
  const { db } = deps;
  return {
    Subscriber: {
      __resolveReference: subscriberReference(deps),
      async lastKnownLocation(parent: { id: string }, _: unknown, ctx: EnforcementContext) {
        const [r] = await batchBySubscriber<LocationRow>(
          ctx,
          'locations',
          db,
          'SELECT * FROM locations WHERE subscriber_id = ANY($1::text[])',
        ).load(parent.id);
        if (!r) return null;
        return {
          subscriberId: r.subscriber_id,
          cellId: r.cell_id,
          latitude: r.latitude,
          longitude: r.longitude,
          accuracyMeters: r.accuracy_meters,
          observedAt: new Date(r.observed_at).toISOString(),
        };
      },
    },
  };
}
