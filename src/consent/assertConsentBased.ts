import type { PurposeRegistry } from '../policy/index.js';
import { NotConsentBasedError } from './NotConsentBasedError.js';

/**
 * Refuses a consent event for a purpose whose lawful basis is not CONSENT: recording one would
 * tell the subscriber they withdrew (or granted) something that has no effect on any decision.
 */
export function assertConsentBased(registry: PurposeRegistry, purpose: string): void {
  const def = registry.get(purpose);
  if (!def) throw new Error(`Purpose "${purpose}" is not in the purpose registry.`);
  if (def.basis !== 'CONSENT') throw new NotConsentBasedError(purpose, def.basis);
}
