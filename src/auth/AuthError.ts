/** The token is missing, malformed, expired, forged or not for us (401 UNAUTHENTICATED). */
export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}
