import { purposeChain } from './purposeTree.js';
import type { FieldPolicy, MaskStrategy, PurposeRegistry } from './types.js';

/** Whether the field's @purpose allows `purpose` or one of its ancestors. */
export function purposeAllows(registry: PurposeRegistry, field: FieldPolicy, purpose: string): boolean {
  if (!registry.has(purpose)) return false;
  return purposeChain(registry, purpose).some((p) => field.allow.has(p));
}

/** The mask strategy `purpose` (or its nearest ancestor with one) gets for this field, if any. */
export function maskFor(registry: PurposeRegistry, field: FieldPolicy, purpose: string): MaskStrategy | undefined {
  if (field.masks.size === 0) return undefined;
  for (const p of purposeChain(registry, purpose)) {
    const strategy = field.masks.get(p);
    if (strategy) return strategy;
  }
  return undefined;
}
