import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLSchema } from 'graphql';
import { parse } from 'graphql';
import { allow } from 'graphql-shield';
import { readPolicyMap, type PolicyMap } from '../../directives/index.js';
import type { Db } from '../db/index.js';
import { applyRules, buildRules, ruleFailed } from '../shield/index.js';
import { auditResolvers } from './audit/resolvers.js';
import { billingResolvers } from './billing/resolvers.js';
import { consentResolvers } from './consent/resolvers.js';
import { devicesResolvers } from './devices/resolvers.js';
import type { PolicySources, SubgraphName } from './loadPolicySources.js';
import { locationResolvers } from './location/resolvers.js';
import { CursorCodec } from './cursor.js';
import type { SubgraphDeps } from './SubgraphDeps.js';
import { subscribersResolvers } from './subscribers/resolvers.js';
import { usageResolvers } from './usage/resolvers.js';

const RESOLVERS = {
  subscribers: subscribersResolvers,
  devices: devicesResolvers,
  location: locationResolvers,
  usage: usageResolvers,
  billing: billingResolvers,
  consent: consentResolvers,
  audit: auditResolvers,
} satisfies Record<SubgraphName, unknown>;

/** An executable, enforcing subgraph. */
export interface Subgraph {
  name: SubgraphName;
  schema: GraphQLSchema;
  policy: PolicyMap;
}

/**
 * Builds one subgraph: its SDL, its resolvers, and the graphql-shield rules generated from its
 * own @purpose/@subject/@mask. Throws PolicyError (fail closed) when the SDL leaves a @subject
 * field uncovered.
 */
export function createSubgraphSchema(
  name: SubgraphName,
  options: {
    db: Db;
    sources: PolicySources;
    maskKey: string;
    maxFirst?: number;
    /** false builds the benchmark's unprotected baseline: no rules, no guards. @default true */
    enforce?: boolean;
  },
): Subgraph {
  const sdl = options.sources.subgraphs.get(name);
  if (sdl === undefined) throw new Error(`Unknown subgraph "${name}".`);
  const typeDefs = parse(sdl);
  const policy = readPolicyMap(typeDefs, options.sources.registry);
  const deps: SubgraphDeps = { db: options.db, sources: options.sources, policy, maxFirst: options.maxFirst ?? 500, cursors: new CursorCodec(options.maskKey), enforce: options.enforce !== false };
  const schema = buildSubgraphSchema([{ typeDefs, resolvers: RESOLVERS[name](deps) as never }]);
  if (!deps.enforce) return { name, schema, policy };
  applyRules(schema, buildRules(policy, options.sources.registry), {
    fallbackRule: allow,
    allowExternalErrors: false,
    debug: false,
    fallbackError: ruleFailed,
    registry: options.sources.registry,
    policy,
    maskKey: options.maskKey,
  });
  return { name, schema, policy };
}
