import { defaultFieldResolver, GraphQLError, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import { allow, deny } from 'graphql-shield';
import type { PolicyMap } from '../../directives/index.js';
import { applyMask, maskFor, type MaskContext, type PurposeRegistry } from '../policy/index.js';
import type { RuleTree } from './buildRules.js';
import type { EnforcementContext } from './EnforcementContext.js';

/** How rules are applied. Every option is set explicitly: no library default decides security. */
export interface ApplyRulesOptions {
  /** Rule for fields the tree does not name. Only `allow` is accepted, and only because
   * readPolicyMap has already refused any @subject field without @purpose. */
  fallbackRule: typeof allow;
  /** Errors thrown inside a rule are never passed to the client; the field is denied. */
  allowExternalErrors: false;
  /** Never expose rule internals. */
  debug: false;
  /** The error a rule that throws becomes. */
  fallbackError: () => Error;
  /** The registry and policy map the masks are read from. */
  registry: PurposeRegistry;
  policy: PolicyMap;
  /** Secret key for HASH masks. */
  maskKey: string;
}

/** The context of a mask that reads none (every strategy but HASH). */
const NO_MASK_CONTEXT: MaskContext = Object.freeze({ key: '', subjectId: '', coordinate: '' });

function isThenable(x: unknown): x is PromiseLike<unknown> {
  return typeof (x as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * Applies a rule tree to a schema in place, like graphql-shield's `shield()` but wrapping only
 * the fields that have a rule, so unprotected fields keep their plain resolvers, and resolving a
 * rule without a promise when it can answer synchronously. A released value is masked when
 * the field has a @mask for the request's purpose.
 */
export function applyRules(schema: GraphQLSchema, tree: RuleTree, options: ApplyRulesOptions): GraphQLSchema {
  if (options.fallbackRule !== allow || options.allowExternalErrors !== false || options.debug !== false) {
    throw new Error('applyRules: fallbackRule must be allow, allowExternalErrors and debug must be false.');
  }
  for (const [typeName, fieldRules] of Object.entries(tree)) {
    const type = schema.getType(typeName);
    if (!isObjectType(type)) continue;
    const fields = type.getFields();
    for (const [fieldName, r] of Object.entries(fieldRules)) {
      const field = fields[fieldName];
      if (r === allow) continue; // also for _entities in a subgraph without entities
      if (!field) throw new Error(`Rule "purpose:${typeName}.${fieldName}" names a field the schema does not have.`);
      if (r === deny) {
        field.resolve = () => options.fallbackError();
        continue;
      }
      // shield's Rule keeps its function in `func` (typed private); calling it directly is what
      // lets a rule answer without a promise. Same function shield() would run.
      const ruleFunc = (r as unknown as { func: GraphQLFieldResolver<unknown, EnforcementContext> }).func;
      const fieldPolicy = options.policy.field(typeName, fieldName);
      const subjectKey = options.policy.types.get(typeName)?.subjectKey;
      const resolve: GraphQLFieldResolver<unknown, EnforcementContext> = field.resolve ?? defaultFieldResolver;
      const masks = new Map<string, ReturnType<typeof maskFor>>();
      const strategyFor = (purpose: string) => {
        if (!masks.has(purpose)) masks.set(purpose, maskFor(options.registry, fieldPolicy!, purpose));
        return masks.get(purpose);
      };
      const masking: GraphQLFieldResolver<Record<string, unknown>, EnforcementContext> = (parent, args, ctx, info) => {
        const value = resolve(parent, args, ctx, info);
        const strategy = strategyFor(ctx.scope.purpose);
        if (!strategy) return value;
        // Only HASH reads the context (its output is keyed to the subscriber and the field).
        const maskCtx = strategy === 'HASH' ? { key: options.maskKey, subjectId: String(parent[subjectKey!]), coordinate: fieldPolicy!.coordinate } : NO_MASK_CONTEXT;
        return isThenable(value)
          ? Promise.resolve(value).then((v) => applyMask(strategy, v, maskCtx))
          : applyMask(strategy, value, maskCtx);
      };
      // A field that is never masked releases the resolver's own value, with no mask step.
      const release = fieldPolicy && fieldPolicy.masks.size > 0 ? masking : (resolve as GraphQLFieldResolver<Record<string, unknown>, EnforcementContext>);
      const onVerdict = (verdict: unknown, parent: Record<string, unknown>, args: unknown, ctx: EnforcementContext, info: Parameters<GraphQLFieldResolver<unknown, unknown>>[3]) =>
        verdict === true ? release(parent, args as Record<string, unknown>, ctx, info) : verdict instanceof Error ? verdict : options.fallbackError();
      field.resolve = (parent, args, ctx: EnforcementContext, info) => {
        let verdict: unknown;
        try {
          verdict = ruleFunc(parent, args, ctx, info);
        } catch {
          return options.fallbackError();
        }
        // Released (almost every value): straight to the value, no promise check.
        if (verdict === true) return release(parent, args, ctx, info);
        if (isThenable(verdict)) {
          return Promise.resolve(verdict).then(
            (v) => onVerdict(v, parent, args, ctx, info),
            () => options.fallbackError(),
          );
        }
        return onVerdict(verdict, parent, args, ctx, info);
      };
    }
  }
  return schema;
}

/** The error a rule that throws turns into: no detail, no data. */
export function ruleFailed(): Error {
  return new GraphQLError('Unexpected error.', { extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}
