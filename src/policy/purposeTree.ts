import type { PurposeRegistry } from './types.js';

/** Chains already walked, per registry (a registry is immutable once read). */
const chains = new WeakMap<PurposeRegistry, Map<string, readonly string[]>>();

/** The purpose followed by its ancestors, nearest first: MARKETING_SMS → [MARKETING_SMS, MARKETING]. */
export function purposeChain(registry: PurposeRegistry, purpose: string): readonly string[] {
  let known = chains.get(registry);
  if (!known) chains.set(registry, (known = new Map()));
  const hit = known.get(purpose);
  if (hit) return hit;
  const chain: string[] = [];
  let current: string | undefined = purpose;
  while (current !== undefined && !chain.includes(current)) {
    chain.push(current);
    current = registry.get(current)?.parent;
  }
  // Only registry purposes are kept: an unknown name (from a caller) must not grow the cache.
  if (registry.has(purpose)) known.set(purpose, Object.freeze(chain));
  return chain;
}
