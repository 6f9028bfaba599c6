import type { Command } from 'commander';
import { mintToken } from '../auth/index.js';
import { CONFIG_VARIABLES } from '../config.js';
import { startServer } from '../gateway/index.js';
import { cliConfig } from './context.js';

/** `purposegate serve`: the gateway on embedded storage (or DATABASE_URL). */
export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('serve the gateway (POST /graphql, /healthz, /readyz, /metrics)')
    .option('--port <port>', 'HTTP port (PORT)')
    .option('--host <host>', 'interface (HOST)')
    .addHelpText('after', `\nEnvironment (defaults):\n${CONFIG_VARIABLES.map((v) => `  ${v.name.padEnd(20)} ${v.default.padEnd(26)} ${v.meaning}`).join('\n')}\n`)
    .action(async (opts: { port?: string; host?: string }) => {
      const config = cliConfig({ PORT: opts.port, HOST: opts.host });
      if (config.seedSubscribers > 0) process.stdout.write('purposegate: opening the store (demo data is seeded on first start)…\n');
      const server = await startServer(config);
      const token = await mintToken(
        server.issuerKey,
        { sub: 'svc-crm', kind: 'internal', purposes: ['CUSTOMER_SUPPORT'] },
        { issuer: config.tokenIssuer, audience: config.tokenAudience, ttlSeconds: 3600 },
      );
      const store = config.databaseUrl ? 'PostgreSQL (DATABASE_URL)' : `embedded PGlite in ${config.dataDir}`;
      process.stdout.write(
        [
          `purposegate listening on ${server.url}  (store: ${store}${server.seeded ? `, seeded ${server.seeded} demo subscribers` : ''})`,
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
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        process.stdout.write(`purposegate: ${signal}, finishing in-flight requests…\n`);
        server.close().then(
          () => process.exit(0),
          () => process.exit(1),
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
    });
}
