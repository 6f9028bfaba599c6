import { allow, rule } from 'graphql-shield';
import type { GraphQLResolveInfo } from 'graphql';
import type { PolicyMap } from '../../directives/index.js';
import type { LoadedSubject } from '../consent/index.js';
import { fieldAllows, type Decision, type FieldPolicy, type PurposeRegistry } from '../policy/index.js';
import { decideMade } from './decideFor.js';
import type { DecisionLog, MadeDecision } from './DecisionLog.js';
import type { EnforcementContext } from './EnforcementContext.js';
import { forbidden } from './forbidden.js';

/** What a generated rule returns: shield's `true` (release) or the error to put at the field's path. */
export type Verdict = true | Error;

/** A generated rule: a graphql-shield Rule whose function may answer synchronously. */
export type PolicyRule = ReturnType<ReturnType<typeof rule>>;

/** Rules by type and field, as graphql-shield's rule tree. */
export type RuleTree = Record<string, Record<string, PolicyRule | typeof allow>>;

function toVerdict(ctx: EnforcementContext, field: FieldPolicy, decision: Decision, info: GraphQLResolveInfo): Verdict {
  return decision.effect === 'DENY' ? forbidden(field.coordinate, ctx.scope.purpose, decision.reason, info) : true;
}

/**
 * Generates one graphql-shield rule per protected field of a subgraph, named
 * `purpose:<coordinate>`. On a @subject type each calls decide() for the subscriber its parent object belongs to;
 * when that subscriber is already loaded in this request it answers synchronously. The
 * federation fields `_service` and `_entities` are allowed explicitly: the rules of the entity
 * fields run under `_entities` as anywhere else.
 */
export function buildRules(policy: PolicyMap, registry: PurposeRegistry): RuleTree {
  const tree: RuleTree = { Query: { _service: allow, _entities: allow } };
  for (const type of policy.types.values()) {
    const subjectKey = type.subjectKey;
    if (subjectKey === undefined) {
      // @purpose on a field of a type that is not personal data (root fields, mutations): the
      // purpose check is generated here; the resolver adds the subject rules it knows about.
      const fields: Record<string, PolicyRule> = {};
      for (const [fieldName, field] of type.fields) {
        fields[fieldName] = rule(`purpose:${field.coordinate}`, { cache: 'no_cache' })((_p: unknown, _a: unknown, ctx: EnforcementContext, info: GraphQLResolveInfo) =>
          fieldAllows(registry, field, ctx.scope.purpose) ? true : forbidden(field.coordinate, ctx.scope.purpose, 'PURPOSE_NOT_ALLOWED', info),
        );
      }
      tree[type.name] = { ...(tree[type.name] ?? {}), ...fields };
      continue;
    }
    const fields: Record<string, PolicyRule> = {};
    for (const [fieldName, field] of type.fields) {
      // The decision this field made last, and for which request and subscriber: the values of a
      // page's column are almost always one subscriber's, so the next one is counted with no
      // lookup. Another request's or another subscriber's value takes the lookup.
      let lastLog: DecisionLog | undefined;
      let lastSubject: string | undefined;
      let lastMade: MadeDecision | undefined;
      const verdict = (ctx: EnforcementContext, subjectId: string, made: MadeDecision, info: GraphQLResolveInfo): Verdict => {
        lastLog = ctx.scope.decisions;
        lastSubject = subjectId;
        lastMade = made;
        return toVerdict(ctx, field, made.decision, info);
      };
      fields[fieldName] = rule(`purpose:${field.coordinate}`, { cache: 'no_cache' })(
        (parent: Record<string, unknown>, _args: unknown, ctx: EnforcementContext, info: GraphQLResolveInfo) => {
          const subjectId = parent?.[subjectKey];
          if (typeof subjectId !== 'string') {
            // No subject on the object: nothing to decide for, so nothing is released.
            return forbidden(field.coordinate, ctx.scope.purpose, 'OUT_OF_SCOPE', info);
          }
          if (subjectId === lastSubject && ctx.scope.decisions === lastLog) {
            // Same request, same subscriber: the decision made for the previous value, counted again.
            lastMade!.entry.count++;
            return toVerdict(ctx, field, lastMade!.decision, info);
          }
          if (!fieldAllows(registry, field, ctx.scope.purpose)) {
            // Static denial (the field's @purpose, worked out once per purpose): no need to load the subject.
            return verdict(ctx, subjectId, decideMade(registry, ctx, field, subjectId, { status: 'not_found' }), info);
          }
          const loaded = ctx.subjects.peek(subjectId);
          if (loaded) return verdict(ctx, subjectId, decideMade(registry, ctx, field, subjectId, loaded), info);
          return ctx.subjects
            .load(subjectId)
            .then((s: LoadedSubject) => verdict(ctx, subjectId, decideMade(registry, ctx, field, subjectId, s), info));
        },
      );
    }
    tree[type.name] = { ...(tree[type.name] ?? {}), ...fields };
  }
  return tree;
}
