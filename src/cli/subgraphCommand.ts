import { type Command } from 'commander';
import { createLogger } from '../logger.js';
import { SUBGRAPH_NAMES, startSubgraphServer, type SubgraphName } from '../subgraphs/index.js';
import { addConfigFlags, configFlags } from './configFlags.js';
import { cliConfig } from './context.js';
import { CliError } from './fail.js';
import { onShutdown } from './onShutdown.js';

/** `purposegate subgraph NAME`: one subgraph as its own HTTP service, for gateways started with --subgraph. */
export function subgraphCommand(program: Command): void {
  addConfigFlags(
    program
      .command('subgraph')
      .argument('<name>', `the subgraph to serve: ${SUBGRAPH_NAMES.join(', ')}`)
      .description('serve one subgraph over HTTP (needs DATABASE_URL; accepts only requests signed by a gateway)'),
  ).action(async (name: string, opts: Record<string, unknown>) => {
    if (!(SUBGRAPH_NAMES as readonly string[]).includes(name)) throw new CliError(`Unknown subgraph "${name}": choose one of ${SUBGRAPH_NAMES.join(', ')}.`);
    const config = cliConfig(configFlags(opts));
    const logger = createLogger(config.logLevel, { service: `subgraph:${name}` });
    const server = await startSubgraphServer(config, name as SubgraphName, { logger });
    logger.info({ url: server.url, policy: server.policyHash }, 'listening');
    process.stdout.write(`purposegate subgraph "${name}" listening on ${server.url}  (policy ${server.policyHash.slice(0, 12)})\n`);
    onShutdown(async () => {
      await server.close();
      logger.info('stopped');
    });
  });
}
