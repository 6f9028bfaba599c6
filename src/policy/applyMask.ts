import { createHmac } from 'node:crypto';
import type { MaskStrategy } from './types.js';

/** What a keyed mask (HASH) binds its output to. */
export interface MaskContext {
  /** Secret key of the deployment (DATA_DIR or MASK_KEY); without it HASH would be reversible by guessing. */
  key: string;
  subjectId: string;
  coordinate: string;
}

function exhaustive(strategy: never): never {
  throw new Error(`Unknown mask strategy "${String(strategy)}".`);
}

/** Redacts one value with a mask strategy; null stays null. */
export function applyMask(strategy: MaskStrategy, value: unknown, ctx: MaskContext): unknown {
  if (value === null || value === undefined) return null;
  switch (strategy) {
    case 'LAST4': {
      const s = String(value);
      return s.length <= 4 ? '*'.repeat(s.length) : '*'.repeat(s.length - 4) + s.slice(-4);
    }
    case 'PREFIX8': {
      const s = String(value);
      return s.slice(0, 8) + '*'.repeat(Math.max(0, s.length - 8));
    }
    case 'COARSE_LOCATION': {
      const n = typeof value === 'number' ? value : Number(value);
      return Number.isFinite(n) ? Math.round(n * 100) / 100 : null;
    }
    case 'HASH':
      return createHmac('sha256', ctx.key).update(`${ctx.subjectId}\u0000${ctx.coordinate}\u0000${String(value)}`).digest('hex').slice(0, 32);
    default:
      return exhaustive(strategy);
  }
}
