import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, flagOf, mergeConfigSources, parseConfig } from '../../src/config.js';
import { cli } from '../processes.js';

const dir = mkdtempSync(join(tmpdir(), 'purposegate-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PG = 'postgres://postgres@127.0.0.1:5432/test';

describe('configuration: parsed once, from flags, the environment and a file', () => {
  it('takes flags over the environment over the config file', () => {
    const file = join(dir, 'a.json');
    writeFileSync(file, JSON.stringify({ PORT: 4100, LIMIT_DEPTH: 9, LOG_LEVEL: 'warn', DATABASE_URL: PG, SUBGRAPH_URLS: { devices: 'http://10.0.0.5:4001/graphql' } }));
    const config = parseConfig(mergeConfigSources({ env: { PURPOSEGATE_CONFIG: file, PORT: '4200', LIMIT_DEPTH: '8' }, flags: { PORT: '4300' } }));
    expect(config.port).toBe(4300);
    expect(config.limits.depth).toBe(8);
    expect(config.logLevel).toBe('warn');
    expect([...config.subgraphUrls]).toEqual([['devices', 'http://10.0.0.5:4001/graphql']]);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['a bad number', { PORT: 'eighty' }, /^PORT must be an integer from 0 to 65535; got "eighty"\.$/],
    ['an unknown log level', { LOG_LEVEL: 'loud' }, /^LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent; got "loud"\.$/],
    ['an unknown subgraph', { DATABASE_URL: PG, SUBGRAPH_URLS: 'phones=http://x:1/graphql' }, /^SUBGRAPH_URLS must be comma-separated name=url pairs with names from subscribers, devices, .*; got "phones=http:\/\/x:1\/graphql"\.$/],
    ['a subgraph URL that is not http(s)', { DATABASE_URL: PG, SUBGRAPH_URLS: 'devices=ftp://x/graphql' }, /^SUBGRAPH_URLS must be .*; got "devices=ftp:\/\/x\/graphql"\.$/],
    ['the same subgraph twice', { DATABASE_URL: PG, SUBGRAPH_URLS: 'devices=http://a:1/graphql,devices=http://b:1/graphql' }, /^SUBGRAPH_URLS must be/],
    ['remote subgraphs on the embedded store', { SUBGRAPH_URLS: 'devices=http://a:1/graphql' }, /^SUBGRAPH_URLS must be set together with DATABASE_URL .*; got "devices=http:\/\/a:1\/graphql"\.$/],
    ['a short MASK_KEY', { MASK_KEY: 'short' }, /^MASK_KEY must be a secret of at least 32 characters/],
  ])('%s stops start-up naming the variable, the expected form and what arrived', (_, env, message) => {
    expect(() => parseConfig(mergeConfigSources({ env }))).toThrow(message);
  });

  it('refuses a config file it cannot read, or one with a key that is not a setting', () => {
    expect(() => mergeConfigSources({ env: { PURPOSEGATE_CONFIG: join(dir, 'missing.json') } })).toThrow(/^PURPOSEGATE_CONFIG must be a readable JSON file; got ".*missing\.json \(ENOENT/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ PORTT: 1 }));
    expect(() => mergeConfigSources({ env: { PURPOSEGATE_CONFIG: bad } })).toThrow(/PORTT is not one/);
  });

  it('documents every variable, with its default, in the README configuration table', () => {
    const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
    for (const v of CONFIG_VARIABLES) {
      expect(readme, v.name).toContain(`| \`${v.name}\` | ${v.default.startsWith('(') ? v.default : `\`${v.default}\``} |`);
    }
  });

  it('serve --help lists every variable and its flag', async () => {
    const help = await cli(['serve', '--help']);
    expect(help.code).toBe(0);
    for (const v of CONFIG_VARIABLES) {
      expect(help.stdout, v.name).toContain(v.name);
      if (!['PURPOSEGATE_CONFIG', 'SUBGRAPH_URLS'].includes(v.name)) expect(help.stdout, flagOf(v.name)).toContain(flagOf(v.name));
    }
    expect(help.stdout).toContain('--subgraph <name=url>');
    expect(help.stdout).toContain('--config <file>');
  });
});
