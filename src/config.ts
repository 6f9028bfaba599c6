import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { LOG_LEVELS, type LogLevel } from './logger.js';
import { SUBGRAPH_NAMES, type SubgraphName } from './subgraphs/loadPolicySources.js';

/** Query limits (SPEC §4); each has an environment variable and a default. */
export interface Limits {
  /** Deepest field nesting. @default 12 */
  depth: number;
  /** Aliases in one operation. @default 30 */
  aliases: number;
  /** Fields at the root of the operation. @default 5 */
  rootFields: number;
  /** Lexical tokens in the document. @default 4000 */
  tokens: number;
  /** Bytes of the HTTP request body. @default 65536 */
  requestBytes: number;
  /** Estimated fields resolved, list sizes multiplied. @default 60000 */
  cost: number;
  /** Largest `first` of one page. @default 500 */
  first: number;
  /** Directives in one operation, fragments expanded at each spread. @default 50 */
  directives: number;
}

/** Everything the process is configured with, parsed and validated once at start. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  jwksUrl?: string;
  jwksFile?: string;
  /** Who may act for whom in delegated tokens (RFC 8693 `act`); unset: no delegated token is accepted. */
  actorsFile?: string;
  tokenIssuer: string;
  tokenAudience: string;
  /** Secret for HASH masks; generated in DATA_DIR when unset. */
  maskKey?: string;
  /** Subscribers seeded on the first start of an empty store; 0 seeds nothing. */
  seedSubscribers: number;
  consentTimeoutMs: number;
  clockToleranceSec: number;
  /** Longest accepted token lifetime in seconds. */
  tokenMaxAgeSec: number;
  /** Requests per minute per caller (token kind + sub); 0 disables. */
  rateLimitPerMinute: number;
  /** Burst a caller may use at once. */
  rateLimitBurst: number;
  schemaDir?: string;
  limits: Limits;
  /** Subgraphs served by other processes, by name (the rest run in the gateway's process). */
  subgraphUrls: ReadonlyMap<SubgraphName, string>;
  /** A remote subgraph that has not answered after this many ms fails its fields. */
  subgraphTimeoutMs: number;
  /** The gateway keys a subgraph service trusts (JWKS file); DATA_DIR's gateway key when unset. */
  gatewayJwksFile?: string;
  logLevel: LogLevel;
  /** How long SIGTERM waits for in-flight requests before closing their connections. */
  shutdownGraceMs: number;
}

/** A configuration value is missing or malformed; the message names the variable. */
export class ConfigError extends Error {
  constructor(variable: string, expected: string, got: string | undefined) {
    super(`${variable} must be ${expected}; got ${got === undefined ? 'nothing' : JSON.stringify(got)}.`);
    this.name = 'ConfigError';
  }
}

/** Every variable with its default and meaning (serve --help and the README list these). */
export const CONFIG_VARIABLES: ReadonlyArray<{ name: string; default: string; meaning: string }> = [
  { name: 'PORT', default: '4000', meaning: 'HTTP port' },
  { name: 'HOST', default: '127.0.0.1', meaning: 'interface to listen on' },
  { name: 'DATA_DIR', default: './.purposegate', meaning: 'embedded store, issuer key and mask key' },
  { name: 'DATABASE_URL', default: '(unset: embedded PGlite)', meaning: 'postgres://… switches every store to PostgreSQL' },
  { name: 'JWKS_URL', default: '(unset)', meaning: 'issuer JWKS to verify tokens against (production)' },
  { name: 'JWKS_FILE', default: '(unset)', meaning: 'issuer JWKS file (production)' },
  { name: 'ACTORS_FILE', default: '(unset: any actor the issuer signed)', meaning: 'JSON {"<sub>": ["<actor sub>", …]}: who may act for whom (`act`)' },
  { name: 'TOKEN_ISSUER', default: 'purposegate-local', meaning: 'required `iss` of tokens' },
  { name: 'TOKEN_AUDIENCE', default: 'purposegate', meaning: 'required `aud` of tokens' },
  { name: 'MASK_KEY', default: '(generated in DATA_DIR)', meaning: 'secret key of HASH masks' },
  { name: 'SEED_SUBSCRIBERS', default: '1000', meaning: 'demo subscribers seeded on first start (0: none)' },
  { name: 'CONSENT_TIMEOUT_MS', default: '2000', meaning: 'consent lookups slower than this deny with CONSENT_UNAVAILABLE' },
  { name: 'CLOCK_TOLERANCE_S', default: '30', meaning: 'allowed clock skew for exp/iat/nbf' },
  { name: 'TOKEN_MAX_AGE_S', default: '86400', meaning: 'longest accepted token lifetime (exp - iat)' },
  { name: 'RATE_LIMIT_PER_MINUTE', default: '6000', meaning: 'requests per minute per caller (kind + sub); 0 disables' },
  { name: 'RATE_LIMIT_BURST', default: '200', meaning: 'requests a caller may send at once' },
  { name: 'SCHEMA_DIR', default: '(the bundled schema/)', meaning: 'policy SDL folder' },
  { name: 'LIMIT_DEPTH', default: '12', meaning: 'deepest field nesting' },
  { name: 'LIMIT_ALIASES', default: '30', meaning: 'aliases per operation' },
  { name: 'LIMIT_ROOT_FIELDS', default: '5', meaning: 'root fields per operation' },
  { name: 'LIMIT_TOKENS', default: '4000', meaning: 'lexical tokens per document' },
  { name: 'LIMIT_REQUEST_BYTES', default: '65536', meaning: 'bytes per request body' },
  { name: 'LIMIT_COST', default: '60000', meaning: 'estimated fields resolved (list sizes multiply)' },
  { name: 'LIMIT_FIRST', default: '500', meaning: 'largest `first` per page' },
  { name: 'LIMIT_DIRECTIVES', default: '50', meaning: 'directives per operation (fragments expanded)' },
  { name: 'PURPOSEGATE_CONFIG', default: '(unset)', meaning: 'a JSON file of these settings (flag: --config); flags and the environment override it' },
  { name: 'SUBGRAPH_URLS', default: '(unset: all in-process)', meaning: 'remote subgraphs, `name=url,…` (serve --subgraph name=url); needs DATABASE_URL' },
  { name: 'SUBGRAPH_TIMEOUT_MS', default: '10000', meaning: 'a remote subgraph slower than this fails its fields' },
  { name: 'GATEWAY_JWKS_FILE', default: '(DATA_DIR/keys/gateway.jwks.json)', meaning: 'gateway keys a subgraph service trusts' },
  { name: 'LOG_LEVEL', default: 'info', meaning: 'JSON log level on stderr: fatal, error, warn, info, debug, trace, silent' },
  { name: 'SHUTDOWN_GRACE_MS', default: '15000', meaning: 'on SIGTERM, time in-flight requests get before their connections close' },
];

/** The command-line flag of a variable: LIMIT_DEPTH → --limit-depth. */
export function flagOf(variable: string): string {
  return `--${variable.toLowerCase().replaceAll('_', '-')}`;
}

type Env = Record<string, string | undefined>;

function subgraphUrls(raw: string | undefined): Map<SubgraphName, string> {
  const urls = new Map<SubgraphName, string>();
  if (raw === undefined || raw.trim() === '') return urls;
  const expected = `comma-separated name=url pairs with names from ${SUBGRAPH_NAMES.join(', ')} and http(s) URLs`;
  for (const pair of raw.split(',')) {
    const m = /^\s*([a-z]+)\s*=\s*(\S+)\s*$/.exec(pair);
    if (!m || !(SUBGRAPH_NAMES as readonly string[]).includes(m[1]) || urls.has(m[1] as SubgraphName)) throw new ConfigError('SUBGRAPH_URLS', expected, raw);
    try {
      const u = new URL(m[2]);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      throw new ConfigError('SUBGRAPH_URLS', expected, raw);
    }
    urls.set(m[1] as SubgraphName, m[2]);
  }
  return urls;
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `an integer from ${min} to ${max}`, raw);
  }
  return n;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    const u = new URL(raw);
    if (!protocols.includes(u.protocol)) throw new Error();
    return raw;
  } catch {
    throw new ConfigError(name, `a ${protocols.join(' or ')} URL`, raw);
  }
}

/** Parses and validates the environment once; a bad value throws ConfigError naming it. */
export function parseConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const dataDirRaw = env.DATA_DIR && env.DATA_DIR !== '' ? env.DATA_DIR : './.purposegate';
  const config: Config = {
    port: int(env, 'PORT', 4000, 0, 65535),
    host: env.HOST && env.HOST !== '' ? env.HOST : '127.0.0.1',
    dataDir: dataDirRaw.startsWith('memory://') || isAbsolute(dataDirRaw) ? dataDirRaw : resolve(cwd, dataDirRaw),
    tokenIssuer: env.TOKEN_ISSUER && env.TOKEN_ISSUER !== '' ? env.TOKEN_ISSUER : 'purposegate-local',
    tokenAudience: env.TOKEN_AUDIENCE && env.TOKEN_AUDIENCE !== '' ? env.TOKEN_AUDIENCE : 'purposegate',
    seedSubscribers: int(env, 'SEED_SUBSCRIBERS', 1000, 0, 1_000_000),
    consentTimeoutMs: int(env, 'CONSENT_TIMEOUT_MS', 2000, 1, 600_000),
    clockToleranceSec: int(env, 'CLOCK_TOLERANCE_S', 30, 0, 600),
    tokenMaxAgeSec: int(env, 'TOKEN_MAX_AGE_S', 86_400, 60, 31_536_000),
    rateLimitPerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 6000, 0, 10_000_000),
    rateLimitBurst: int(env, 'RATE_LIMIT_BURST', 200, 1, 1_000_000),
    limits: {
      depth: int(env, 'LIMIT_DEPTH', 12, 1, 1000),
      aliases: int(env, 'LIMIT_ALIASES', 30, 0, 10_000),
      rootFields: int(env, 'LIMIT_ROOT_FIELDS', 5, 1, 1000),
      tokens: int(env, 'LIMIT_TOKENS', 4000, 10, 1_000_000),
      requestBytes: int(env, 'LIMIT_REQUEST_BYTES', 65536, 256, 100_000_000),
      cost: int(env, 'LIMIT_COST', 60000, 1, 100_000_000),
      first: int(env, 'LIMIT_FIRST', 500, 1, 100_000),
      directives: int(env, 'LIMIT_DIRECTIVES', 50, 0, 10_000),
    },
    subgraphUrls: subgraphUrls(env.SUBGRAPH_URLS),
    subgraphTimeoutMs: int(env, 'SUBGRAPH_TIMEOUT_MS', 10_000, 1, 600_000),
    logLevel: 'info',
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 15_000, 0, 600_000),
  };
  if (env.LOG_LEVEL !== undefined && env.LOG_LEVEL !== '') {
    if (!(LOG_LEVELS as readonly string[]).includes(env.LOG_LEVEL)) throw new ConfigError('LOG_LEVEL', `one of ${LOG_LEVELS.join(', ')}`, env.LOG_LEVEL);
    config.logLevel = env.LOG_LEVEL as LogLevel;
  }
  const databaseUrl = url(env, 'DATABASE_URL', ['postgres:', 'postgresql:']);
  if (databaseUrl) config.databaseUrl = databaseUrl;
  const jwksUrl = url(env, 'JWKS_URL', ['https:', 'http:']);
  if (jwksUrl && new URL(jwksUrl).protocol === 'http:' && !['127.0.0.1', 'localhost', '[::1]'].includes(new URL(jwksUrl).hostname)) {
    throw new ConfigError('JWKS_URL', 'an https: URL (http: only on loopback)', jwksUrl);
  }
  if (jwksUrl) config.jwksUrl = jwksUrl;
  if (env.JWKS_FILE) config.jwksFile = resolve(cwd, env.JWKS_FILE);
  if (env.ACTORS_FILE) config.actorsFile = resolve(cwd, env.ACTORS_FILE);
  if (jwksUrl && env.JWKS_FILE) throw new ConfigError('JWKS_FILE', 'unset when JWKS_URL is set (choose one)', env.JWKS_FILE);
  if (env.MASK_KEY !== undefined && env.MASK_KEY !== '') {
    if (env.MASK_KEY.length < 32) throw new ConfigError('MASK_KEY', 'a secret of at least 32 characters', '(too short)');
    config.maskKey = env.MASK_KEY;
  }
  if (env.SCHEMA_DIR) config.schemaDir = resolve(cwd, env.SCHEMA_DIR);
  if (env.GATEWAY_JWKS_FILE) config.gatewayJwksFile = resolve(cwd, env.GATEWAY_JWKS_FILE);
  if (config.subgraphUrls.size > 0 && !config.databaseUrl) {
    throw new ConfigError('SUBGRAPH_URLS', 'set together with DATABASE_URL (remote subgraphs share the PostgreSQL store; an embedded store has one opener)', env.SUBGRAPH_URLS);
  }
  return config;
}

/**
 * Where settings come from, strongest first: command-line flags, the environment, then a JSON
 * config file (`--config FILE` or PURPOSEGATE_CONFIG) whose keys are the variable names. Returns
 * one environment-shaped map for parseConfig.
 */
export function mergeConfigSources(options: { env: Env; flags?: Env; cwd?: string }): Env {
  const flags = Object.fromEntries(Object.entries(options.flags ?? {}).filter(([, v]) => v !== undefined && v !== ''));
  const file = flags.PURPOSEGATE_CONFIG ?? options.env.PURPOSEGATE_CONFIG;
  const fromFile: Env = {};
  if (file) {
    const path = resolve(options.cwd ?? process.cwd(), file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError('PURPOSEGATE_CONFIG', 'a readable JSON file', `${file} (${(err as Error).message})`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('PURPOSEGATE_CONFIG', 'a JSON object of variable names to values', file);
    const known = new Set(CONFIG_VARIABLES.map((v) => v.name));
    for (const [key, value] of Object.entries(parsed)) {
      if (!known.has(key)) throw new ConfigError('PURPOSEGATE_CONFIG', `keys from the configuration table (${key} is not one)`, file);
      if (key === 'SUBGRAPH_URLS' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
        fromFile[key] = Object.entries(value).map(([name, url]) => `${name}=${String(url)}`).join(',');
      } else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
        fromFile[key] = String(value);
      } else {
        throw new ConfigError(key, 'a string or a number in the config file', JSON.stringify(value));
      }
    }
  }
  const env = Object.fromEntries(Object.entries(options.env).filter(([, v]) => v !== undefined && v !== ''));
  return { ...fromFile, ...env, ...flags };
}
