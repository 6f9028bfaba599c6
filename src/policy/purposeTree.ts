import type { PurposeRegistry } from './types.js';

/** The purpose followed by its ancestors, nearest first: MARKETING_SMS → [MARKETING_SMS, MARKETING]. */
export function purposeChain(registry: PurposeRegistry, purpose: string): string[] {
  const chain: string[] = [];
  let current: string | undefined = purpose;
  while (current !== undefined && !chain.includes(current)) {
    chain.push(current);
    current = registry.get(current)?.parent;
  }
  return chain;
}
