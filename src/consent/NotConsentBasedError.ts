import type { LawfulBasis } from '../policy/index.js';

/** A consent event was asked for a purpose whose lawful basis is not consent: there is nothing to grant or withdraw. */
export class NotConsentBasedError extends Error {
  constructor(
    readonly purpose: string,
    readonly basis: LawfulBasis,
  ) {
    super(`Purpose "${purpose}" does not rest on consent (its basis is ${basis}): there is no consent to grant or withdraw.`);
    this.name = 'NotConsentBasedError';
  }
}
