/** The policy SDL is incomplete or inconsistent; the gateway refuses to start (fail closed). */
export class PolicyError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} policy problems:\n  ${problems.join('\n  ')}`);
    this.name = 'PolicyError';
  }
}
