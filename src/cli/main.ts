import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config.js';
import { DatabaseUnavailableError, DataDirLockedError, DataDirLockUnreadableError, MigrationLockedError } from '../db/index.js';
import { auditCommand } from './auditCommand.js';
import { consentCommand } from './consentCommand.js';
import { CliError } from './fail.js';
import { schemaCommand } from './schemaCommand.js';
import { seedCommand } from './seedCommand.js';
import { serveCommand } from './serveCommand.js';
import { subgraphCommand } from './subgraphCommand.js';
import { tokenCommand } from './tokenCommand.js';

/** Builds the `purposegate` command. */
export function buildProgram(): Command {
  const program = new Command('purposegate')
    .description('GraphQL federation gateway that releases subscriber data only for a declared, permitted purpose')
    // A usage error is one line, as every other failure (the SPEC: "non-zero with a one-line
    // reason"), with where to read more; subcommands inherit this.
    .configureOutput({
      outputError: (text, write) => write(`purposegate: ${text.trim().replace(/^error: /, '').split('\n').join(' ')} (see --help)\n`),
    })
    .exitOverride();
  serveCommand(program);
  subgraphCommand(program);
  tokenCommand(program);
  consentCommand(program);
  auditCommand(program);
  schemaCommand(program);
  seedCommand(program);
  return program;
}

/** Runs the CLI; any failure is one line on stderr and a non-zero exit. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode);
    }
    const known = err instanceof CliError || err instanceof ConfigError || err instanceof DataDirLockedError || err instanceof DataDirLockUnreadableError || err instanceof DatabaseUnavailableError || err instanceof MigrationLockedError;
    const message = known ? (err as Error).message : `unexpected error: ${(err as Error)?.message ?? String(err)}`;
    process.stderr.write(`purposegate: ${message.split('\n').join(' ')}\n`);
    process.exit(err instanceof CliError ? err.exitCode : 1);
  }
}
