import type { Command } from 'commander';
import { mintToken } from '../auth/index.js';
import { startServer } from '../gateway/index.js';
import { addConfigFlags, configFlags } from './configFlags.js';
import { cliConfig } from './context.js';
import { onShutdown } from './onShutdown.js';

/** `purposegate serve`: the gateway on embedded storage (or DATABASE_URL), with local or remote subgraphs. */
export function serveCommand(program: Command): void {
  addConfigFlags(
    program.command('serve').description('serve the gateway (POST /graphql, /healthz, /readyz, /metrics)'),
  ).action(async (opts: Record<string, unknown>) => {
    const config = cliConfig(configFlags(opts));
    if (config.seedSubscribers > 0 && !config.databaseUrl) process.stdout.write('purposegate: opening the store (demo data is seeded on first start)…\n');
    const server = await startServer(config);
    const token = await mintToken(
      server.issuerKey,
      { sub: 'svc-crm', kind: 'internal', purposes: ['CUSTOMER_SUPPORT'] },
      { issuer: config.tokenIssuer, audience: config.tokenAudience, ttlSeconds: 3600 },
    );
    const store = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
    const remote = [...config.subgraphUrls.keys()];
    process.stdout.write(
      [
        `purposegate listening on ${server.url}  (store: ${store}${server.seeded ? `, seeded ${server.seeded} demo subscribers` : ''}${remote.length ? `, remote subgraphs: ${remote.join(', ')}` : ''})`,
        '',
        'A CUSTOMER_SUPPORT token for the next hour (mint others with: npx purposegate token mint --help):',
        '',
        `curl -s ${server.url} \\`,
        `  -H 'content-type: application/json' \\`,
        `  -H 'authorization: Bearer ${token}' \\`,
        `  -H 'x-purpose: CUSTOMER_SUPPORT' \\`,
        `  -d '{"query":"{ subscriber(id: \\"sub-000001\\") { fullName msisdn devices { imei model } } }"}'`,
        '',
      ].join('\n'),
    );
    onShutdown((signal) => {
      process.stdout.write(`purposegate: ${signal}, finishing in-flight requests…\n`);
      return server.close();
    });
  });
}
