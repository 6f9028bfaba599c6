import type { PurposeRegistry } from '../policy/index.js';
import type { FieldPolicy } from '../policy/index.js';
import { decideFor, forbidden, type EnforcementContext } from '../shield/index.js';

/**
 * Decides `field` for one subscriber before a root field returns them, so an out-of-scope
 * subscriber (another agency's, or someone else's record under SUBJECT_ACCESS) yields null and a
 * FORBIDDEN error at the root field instead of an object. Throws that error; returns when allowed.
 */
export async function guardSubject(registry: PurposeRegistry, ctx: EnforcementContext, field: FieldPolicy, subjectId: string): Promise<void> {
  const subject = ctx.subjects.peek(subjectId) ?? (await ctx.subjects.load(subjectId));
  const decision = decideFor(registry, ctx, field, subjectId, subject);
  if (decision.effect === 'DENY') throw forbidden(field.coordinate, ctx.scope.purpose, decision.reason);
}
