import type { EnforcementContext } from '../shield/index.js';

/**
 * The Subscriber reference resolver of the subgraphs that extend Subscriber: loads the subject
 * (batched with every other reference of the request) so the field rules decide synchronously.
 */
export function subscriberReference(deps: { enforce: boolean }) {
  if (!deps.enforce) return (ref: { id: string }) => ({ id: ref.id });
  return async (ref: { id: string }, ctx: EnforcementContext) => {
    await ctx.subjects.load(ref.id);
    return { id: ref.id };
  };
}
