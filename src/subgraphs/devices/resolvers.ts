import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/resolverMap.js';
import type { EnforcementContext } from '../../shield/index.js';
import { batchBySubscriber } from '../batchBySubscriber.js';
import { subscriberReference } from '../entityReference.js';
import type { SubgraphDeps } from '../SubgraphDeps.js';

interface DeviceRow {
  subscriber_id: string;
  imei: string;
  imsi: string;
  iccid: string;
  mac_address: string | null;
  model: string | null;
  manufacturer: string | null;
  os_version: string | null;
}

/** Resolvers of the `devices` subgraph. */
export function devicesResolvers(deps: SubgraphDeps): GraphQLResolverMap<EnforcementContext> {
  const { db } = deps;
  return {
    Subscriber: {
      __resolveReference: subscriberReference(deps),
      async devices(parent: { id: string }, _: unknown, ctx: EnforcementContext) {
        const rows = await batchBySubscriber<DeviceRow>(
          ctx,
          'devices',
          db,
          'SELECT * FROM devices WHERE subscriber_id = ANY($1::text[]) ORDER BY subscriber_id, id',
        ).load(parent.id);
        return rows.map((r) => ({
          subscriberId: r.subscriber_id,
          imei: r.imei,
          imsi: r.imsi,
          iccid: r.iccid,
          macAddress: r.mac_address,
          model: r.model,
          manufacturer: r.manufacturer,
          osVersion: r.os_version,
        }));
      },
    },
  };
}
