import type { Command } from 'commander';
import { assertConsentBased, NotConsentBasedError, recordConsent, UnknownSubscriberError } from '../consent/index.js';
import { loadPolicySources } from '../subgraphs/index.js';
import { cliConfig, cliToken, route, withStore } from './context.js';
import { CliError, jsonAnswer } from './fail.js';

interface ConsentOptions {
  subscriber: string;
  purpose: string;
  source: string;
  url?: string;
  token?: string;
}

async function throughServer(url: string, token: string, action: 'GRANT' | 'WITHDRAW', opts: ConsentOptions) {
  const field = action === 'GRANT' ? 'grantConsent' : 'withdrawConsent';
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'CONSENT_MANAGEMENT' },
    body: JSON.stringify({
      query: `mutation($s: ID!, $p: Purpose!, $src: String) { c: ${field}(subscriberId: $s, purpose: $p, source: $src) { purpose state source at } }`,
      variables: { s: opts.subscriber, p: opts.purpose, src: opts.source },
    }),
  }).catch((err: Error) => {
    throw new CliError(`Cannot reach the server at ${url}: ${err.message}`);
  });
  const body = (await jsonAnswer(res, url)) as { data?: { c?: unknown }; errors?: Array<{ message: string }> };
  if (body.errors?.length || !body.data?.c) throw new CliError(body.errors?.[0]?.message ?? `The server answered ${res.status}.`);
  return body.data.c;
}

/** `purposegate consent grant|withdraw`: appends a consent event (directly, or through the running server). */
export function consentCommand(program: Command): void {
  const consent = program.command('consent').description('record consent events');
  for (const action of ['grant', 'withdraw'] as const) {
    consent
      .command(action)
      .description(`append a ${action === 'grant' ? 'GRANT' : 'WITHDRAW'} event; it takes effect on the next request`)
      .requiredOption('--subscriber <id>', 'subscriber id')
      .requiredOption('--purpose <purpose>', 'purpose, e.g. MARKETING_SMS')
      .option('--source <source>', 'where the event came from', 'cli')
      .option('--url <url>', 'go through a running server (automatic when one holds the embedded DATA_DIR)')
      .option('--token <jwt>', 'token for --url (default: minted from DATA_DIR with CONSENT_MANAGEMENT)')
      .action(async (opts: ConsentOptions) => {
        const config = cliConfig();
        const registry = loadPolicySources(config.schemaDir).registry;
        if (!registry.has(opts.purpose)) throw new CliError(`Purpose "${opts.purpose}" is not in the purpose registry.`);
        try {
          assertConsentBased(registry, opts.purpose);
        } catch (err) {
          if (err instanceof NotConsentBasedError) throw new CliError(err.message);
          throw err;
        }
        const act = action === 'grant' ? 'GRANT' : 'WITHDRAW';
        const target = route(config, opts.url);
        let result: unknown;
        if (target.kind === 'server') {
          const token = opts.token ?? (await cliToken(config, 'internal', 'CONSENT_MANAGEMENT', 60));
          result = await throughServer(target.url, token, act, opts);
        } else {
          result = await withStore(config, (db) =>
            recordConsent(db, { subscriberId: opts.subscriber, purpose: opts.purpose, action: act, source: opts.source, evidence: { via: 'cli' } }).catch((err) => {
              if (err instanceof UnknownSubscriberError) throw new CliError(err.message);
              throw err;
            }),
          );
        }
        // The same shape whichever way it went: the Consent type plus the subscriber.
        const { purpose, state, source, at } = result as { purpose: string; state: string; source: string; at: string };
        process.stdout.write(`${JSON.stringify({ subscriberId: opts.subscriber, purpose, state, source, at })}\n`);
      });
  }
}
