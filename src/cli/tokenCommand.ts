import type { Command } from 'commander';
import { mintToken, parseTtl, loadOrCreateIssuerKey, type MintClaims } from '../auth/index.js';
import type { CallerKind } from '../policy/index.js';
import { loadPolicySources } from '../subgraphs/index.js';
import { cliConfig } from './context.js';
import { CliError } from './fail.js';

const KINDS: readonly CallerKind[] = ['internal', 'partner', 'agent', 'auditor', 'subscriber'];

/** A non-empty value for `flag`: the server refuses empty `sub`, `agency` and `act.sub` claims. */
function getValidName(flag: string, value: string): string {
  if (value.trim() === '') throw new CliError(`${flag} must be a non-empty name; got ${JSON.stringify(value)}.`);
  return value;
}

/** The lifetime in seconds: positive, and no longer than the server accepts (TOKEN_MAX_AGE_S). */
function getValidTtl(ttl: string, maxAgeSec: number): number {
  let seconds: number;
  try {
    seconds = parseTtl(ttl);
  } catch (err) {
    throw new CliError(`--ttl: ${(err as Error).message}`);
  }
  if (seconds <= 0) throw new CliError(`--ttl must be a positive lifetime such as 90s, 15m or 12h; got "${ttl}".`);
  if (seconds > maxAgeSec) {
    throw new CliError(`--ttl must be at most ${maxAgeSec} s (TOKEN_MAX_AGE_S, the longest lifetime the server accepts); got "${ttl}" (${seconds} s).`);
  }
  return seconds;
}

/** `purposegate token mint`: signs an access token with the embedded issuer key in DATA_DIR. */
export function tokenCommand(program: Command): void {
  const token = program.command('token').description('access tokens of the embedded issuer');
  token
    .command('mint')
    .description('print a signed access token (JWT, typ at+jwt, EdDSA)')
    .requiredOption('--sub <sub>', 'subject: service name, partner id, or subscriber id for kind subscriber')
    .requiredOption('--kind <kind>', `one of ${KINDS.join(', ')}`)
    .requiredOption('--purposes <list>', 'comma-separated purposes the caller may declare')
    .option('--agency <agency>', 'agency id (required for partner and agent)')
    .option('--act <sub>', 'the actor this token is delegated to (RFC 8693 act claim)')
    .option('--ttl <ttl>', 'lifetime, e.g. 90s, 15m, 12h', '15m')
    .action(async (opts: { sub: string; kind: string; purposes: string; agency?: string; act?: string; ttl: string }) => {
      const config = cliConfig();
      const sub = getValidName('--sub', opts.sub);
      if (!KINDS.includes(opts.kind as CallerKind)) throw new CliError(`--kind must be one of ${KINDS.join(', ')}; got "${opts.kind}".`);
      const registry = loadPolicySources(config.schemaDir).registry;
      const purposes = opts.purposes.split(',').map((p) => p.trim()).filter(Boolean);
      if (purposes.length === 0) throw new CliError('--purposes must name at least one purpose.');
      const unknown = purposes.find((p) => !registry.has(p));
      if (unknown) throw new CliError(`Purpose "${unknown}" is not in the purpose registry.`);
      if ((opts.kind === 'partner' || opts.kind === 'agent') && opts.agency === undefined) throw new CliError(`A ${opts.kind} token needs --agency.`);
      if (opts.agency !== undefined) getValidName('--agency', opts.agency);
      if (opts.act !== undefined && getValidName('--act', opts.act) === sub) {
        throw new CliError(`--act must name an actor other than the token's --sub (a subject never acts for itself); got "${opts.act}".`);
      }
      const ttlSeconds = getValidTtl(opts.ttl, config.tokenMaxAgeSec);
      const claims: MintClaims = { sub, kind: opts.kind as CallerKind, purposes };
      if (opts.agency !== undefined) claims.agency = opts.agency;
      if (opts.act !== undefined) claims.act = { sub: opts.act };
      const key = await loadOrCreateIssuerKey(config.dataDir);
      process.stdout.write(`${await mintToken(key, claims, { issuer: config.tokenIssuer, audience: config.tokenAudience, ttlSeconds })}\n`);
    });
}
