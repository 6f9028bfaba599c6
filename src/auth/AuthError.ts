import type { VerifiedToken } from './verifyToken.js';

/** The token is missing, malformed, expired, forged or not for us (401 UNAUTHENTICATED). */
export class AuthError extends Error {
  constructor(
    message: string,
    /**
     * Set when the token itself verified but a rule refused it (an actor not permitted, say): who
     * presented it, for the audit record of the rejection.
     */
    readonly verified?: VerifiedToken,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}
