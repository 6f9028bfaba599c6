import type { Command } from 'commander';
import { seedDemoData } from '../db/seedDemoData.js';
import { cliConfig, route, withStore } from './context.js';
import { CliError } from './fail.js';

/** `purposegate seed --subscribers N`: appends deterministic demo data. */
export function seedCommand(program: Command): void {
  program
    .command('seed')
    .description('append deterministic demo subscribers (devices, locations, CDRs, billing, consents)')
    .requiredOption('--subscribers <n>', 'how many subscribers')
    .option('--seed <n>', 'random seed', '42')
    .action(async (opts: { subscribers: string; seed: string }) => {
      const n = Number(opts.subscribers);
      if (!Number.isInteger(n) || n < 1 || n > 1_000_000) throw new CliError(`--subscribers must be an integer from 1 to 1000000; got "${opts.subscribers}".`);
      const seed = Number(opts.seed);
      if (!Number.isInteger(seed)) throw new CliError(`--seed must be an integer; got "${opts.seed}".`);
      const config = cliConfig();
      if (route(config, undefined).kind === 'server') {
        throw new CliError(`A server holds DATA_DIR "${config.dataDir}": stop it before seeding (an embedded store has one opener).`);
      }
      const summary = await withStore(config, (db) => seedDemoData(db, { subscribers: n, seed }));
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}
