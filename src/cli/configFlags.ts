import { Option, type Command } from 'commander';
import { CONFIG_VARIABLES, flagOf } from '../config.js';

/** Variables whose flag is spelled otherwise (or built from repeated flags). */
const SPECIAL = new Set(['PURPOSEGATE_CONFIG', 'SUBGRAPH_URLS']);

/**
 * Adds a flag for every configuration variable (PORT → --port, LIMIT_DEPTH → --limit-depth),
 * plus --config FILE and a repeatable --subgraph NAME=URL, and the table of variables to --help.
 */
export function addConfigFlags(command: Command): Command {
  for (const v of CONFIG_VARIABLES) {
    if (SPECIAL.has(v.name)) continue;
    command.addOption(new Option(`${flagOf(v.name)} <value>`, `${v.meaning} (${v.name})`));
  }
  command.addOption(new Option('--config <file>', 'JSON file of settings by variable name (PURPOSEGATE_CONFIG)'));
  command.addOption(
    new Option('--subgraph <name=url>', 'use a remote subgraph (repeatable; SUBGRAPH_URLS)').argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value]),
  );
  command.addHelpText(
    'after',
    `\nEvery flag has an environment variable (flags win over the environment, the environment over --config):\n${CONFIG_VARIABLES.map(
      (v) => `  ${v.name.padEnd(22)} ${v.default.padEnd(36)} ${v.meaning}`,
    ).join('\n')}\n`,
  );
  return command;
}

/** The settings given as flags, by variable name, for cliConfig(). */
export function configFlags(opts: Record<string, unknown>): Record<string, string | undefined> {
  const flags: Record<string, string | undefined> = {};
  for (const v of CONFIG_VARIABLES) {
    if (SPECIAL.has(v.name)) continue;
    const key = flagOf(v.name).slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const value = opts[key];
    if (typeof value === 'string') flags[v.name] = value;
  }
  if (typeof opts.config === 'string') flags.PURPOSEGATE_CONFIG = opts.config;
  if (Array.isArray(opts.subgraph) && opts.subgraph.length > 0) flags.SUBGRAPH_URLS = opts.subgraph.join(',');
  return flags;
}
