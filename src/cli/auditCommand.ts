import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AlreadyClosedError, sealLog } from '../audit/sealLog.js';
import { tryLockLog } from '../audit/logLiveness.js';
import {
  checkAuditArguments,
  loadOrCreateAuditSigner,
  checkProof,
  defaultVerifyWorkers,
  parseVerifierKey,
  policyText,
  reportHtml,
  runAuditOperation,
  type AccessEntry,
  type AuditOperation,
  type ConsistencyProof,
  type InclusionProof,
  type ReplayReport,
  type TrustedKey,
  type VerifyReport,
} from '../audit/index.js';
import type { Config } from '../config.js';
import { composeSupergraph } from '../gateway/index.js';
import { loadPolicySources } from '../subgraphs/index.js';
import { cliConfig, cliToken, route, withStore } from './context.js';
import { CliError, jsonAnswer } from './fail.js';
import { parseProof } from './parseProof.js';

interface RouteOptions {
  url?: string;
  token?: string;
  key: string[];
}

/** Trusted checkpoint keys: DATA_DIR/keys/audit.pub plus any --key files. */
function trustedKeys(config: Config, files: string[]): TrustedKey[] {
  const own = join(config.dataDir, 'keys', 'audit.pub');
  return keyLines(existsSync(own) ? [...files, own] : files).map((l) => l.key);
}

/** The note verifier keys in these files, one per non-empty line; an unreadable file or a line that is not a key is an error. */
function keyLines(paths: string[]): Array<{ line: string; key: TrustedKey }> {
  const read = (p: string) => {
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      throw new CliError(`Cannot read the audit key ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
    }
  };
  return paths.flatMap((p) =>
    read(p)
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return { line: l.trim(), key: parseVerifierKey(l) };
        } catch (err) {
          throw new CliError(`${p}: ${(err as Error).message}`);
        }
      }),
  );
}

/**
 * Runs an audit operation on the store, or — while a server holds the embedded DATA_DIR, or with
 * --url — through that server's POST /audit/<op> with an auditor token.
 */
async function run(config: Config, operation: AuditOperation, opts: RouteOptions): Promise<{ result: unknown; seconds: number; via: string }> {
  // The same check the server makes: the same sentence either way, and nothing sent for nothing.
  try {
    checkAuditArguments(operation);
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const target = route(config, opts.url);
  if (target.kind === 'store') {
    const keys = trustedKeys(config, opts.key);
    if (operation.op === 'verify' && keys.length === 0) {
      throw new CliError('No trusted audit key: pass --key FILE (a note verifier key, as in DATA_DIR/keys/audit.pub).');
    }
    try {
      let total = 0;
      const bar = process.stderr.isTTY && (operation.op === 'replay' || operation.op === 'verify');
      const out = await withStore(config, async (db) => {
        if (bar) total = Number((await db.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_records')).rows[0].n);
        return runAuditOperation(db, operation, keys, bar ? (n) => progressBar(operation.op, n, total) : undefined);
      });
      if (bar) process.stderr.write('\n');
      return { ...out, via: 'store' };
    } catch (err) {
      if (err instanceof CliError) throw err;
      throw new CliError((err as Error).message.split('\n')[0]);
    }
  }
  // The --key files are the auditor's: read here, and trusted by the server beside its own key.
  const keys = keyLines(opts.key).map((l) => l.line);
  if (operation.op === 'verify' && keys.length > 0) operation = { ...operation, keys };
  const token = opts.token ?? (await cliToken(config, 'auditor', 'AUDIT', 300));
  const base = target.url.replace(/\/graphql$/, '');
  const res = await fetch(`${base}/audit/${operation.op}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-purpose': 'AUDIT' },
    body: JSON.stringify(operation),
  }).catch((err: Error) => {
    throw new CliError(`Cannot reach the server at ${base}: ${err.message}`);
  });
  const body = (await jsonAnswer(res, base)) as { result?: unknown; seconds?: number; errors?: Array<{ message: string }> };
  if (!res.ok || body.errors) throw new CliError(body.errors?.[0]?.message ?? `The server answered ${res.status}.`);
  return { result: body.result, seconds: body.seconds ?? 0, via: `server ${base}` };
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** A one-line progress bar on a terminal (stderr), redrawn in place. */
function progressBar(label: string, n: number, total: number): void {
  const pct = total > 0 ? Math.min(1, n / total) : 0;
  process.stderr.write(`\r${label} [${'#'.repeat(Math.round(pct * 30)).padEnd(30, '.')}] ${Math.round(pct * 100)}% ${n}/${total} records `);
}

function routed(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'go through a running server (automatic when one holds the embedded DATA_DIR)')
    .option('--token <jwt>', 'auditor token for --url (default: minted from DATA_DIR, kind auditor, purpose AUDIT)')
    .option('--key <file>', 'trusted audit verifier key (repeatable; DATA_DIR/keys/audit.pub is always trusted)', collect, []);
}

function output(text: string, out: string | undefined) {
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
}

/** `purposegate audit …`: verify, prove, check-proof, replay, report, export. */
export function auditCommand(program: Command): void {
  const audit = program.command('audit').description('verify, prove, replay and report the tamper-evident audit log');

  routed(audit.command('verify'))
    .description('recompute every leaf and root, check every checkpoint signature; exit 1 on any break')
    .option('--checkpoint <file>', 'a checkpoint held outside the store (repeatable); DATA_DIR/checkpoints/ is always read', collect, [])
    .option('--workers <n>', `worker threads that check records while the log is read, 0 to 8 (default ${defaultVerifyWorkers()}: one per core beyond the reading one)`)
    .action(async (opts: RouteOptions & { checkpoint: string[]; workers?: string }) => {
      const workers = opts.workers === undefined ? undefined : /^\d+$/.test(opts.workers) ? Number(opts.workers) : NaN;
      if (workers !== undefined && !(workers <= 8)) throw new CliError(`Pass --workers as a whole number from 0 to 8, not "${opts.workers}".`);
      const config = cliConfig();
      const dir = join(config.dataDir, 'checkpoints');
      const files = [...opts.checkpoint, ...(existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.checkpoint')).map((f) => join(dir, f)) : [])];
      const witnesses = files.map((f) => {
        try {
          return readFileSync(f, 'utf8');
        } catch (err) {
          throw new CliError(`${f}: ${(err as Error).message}`);
        }
      });
      const { result, seconds } = await run(config, { op: 'verify', witnesses, ...(workers !== undefined ? { workers } : {}) }, opts);
      const report = result as VerifyReport;
      for (const l of report.logs) {
        const state =
          l.state === 'closed' ? ', closed'
          : l.state === 'sealed'
            ? l.sealedRecords && l.sealedRecords[1] > l.sealedRecords[0]
              ? `, sealed by ${l.sealedBy} (its writer stopped without closing it; records ${l.sealedRecords[0]} to ${l.sealedRecords[1] - 1} were signed only then)`
              : `, sealed by ${l.sealedBy} at its last checkpoint (its writer stopped without closing it, or before closures existed)`
          : l.state === 'live' ? `, writer running${l.pending ? ` (${l.pending} newest records not under a checkpoint yet)` : ''}`
          : '';
        process.stdout.write(`${l.problem ? 'BROKEN' : 'ok    '} ${l.logId}: ${l.records} records, ${l.checkpoints} checkpoints${l.problem ? ` — index ${l.problem.index}: ${l.problem.message}` : state}\n`);
      }
      process.stdout.write(`${report.leaves} leaves in ${report.logs.length} logs checked in ${seconds.toFixed(2)} s (${Math.round(report.leaves / Math.max(seconds, 1e-9))} leaves/s)\n`);
      if (!report.ok) throw new CliError(`audit log broken: log ${report.problem!.logId} index ${report.problem!.index}: ${report.problem!.message}`);
    });

  audit
    .command('seal')
    .description('sign a checkpoint over a log whose gateway stopped without closing it (killed, crashed), so its last records are covered; refused while its writer runs')
    .requiredOption('--log <id>', 'log id (as verify names it)')
    .action(async (opts: { log: string }) => {
      const config = cliConfig();
      if (route(config, undefined).kind === 'server') {
        throw new CliError('A server holds the embedded DATA_DIR: it sealed the logs of stopped gateways when it started (audit verify shows them).');
      }
      const keyFile = join(config.dataDir, 'keys', 'audit.private.pem');
      if (!existsSync(keyFile)) throw new CliError(`No audit signing key in ${keyFile}: seal with the DATA_DIR of the gateways that wrote the log.`);
      const signer = loadOrCreateAuditSigner(config.dataDir);
      const out = await withStore(config, async (db) => {
        const { rows } = await db.query<{ origin: string; key_name: string; public_key: string }>('SELECT origin, key_name, public_key FROM audit_logs WHERE log_id = $1', [opts.log]);
        const log = rows[0];
        if (!log) throw new CliError(`No log "${opts.log}" in the store.`);
        if (log.key_name !== signer.name || log.public_key !== signer.publicKey.toString('base64')) {
          throw new CliError(`Log "${opts.log}" is signed by another audit key than ${join(config.dataDir, 'keys', 'audit.pub')}: seal it with the DATA_DIR of the gateway that wrote it.`);
        }
        // PostgreSQL: its writer must be gone; its lock is held while the seal is written.
        const lock = db.kind === 'postgres' ? await tryLockLog(db, opts.log) : undefined;
        if (db.kind === 'postgres' && !lock) throw new CliError(`Log "${opts.log}" is held by its writer (a session holds its lock): it is running, and closes the log itself when it stops.`);
        try {
          return await sealLog(db, signer, { logId: opts.log, origin: log.origin }, 'audit-seal', join(config.dataDir, 'checkpoints'));
        } catch (err) {
          if (err instanceof AlreadyClosedError) throw new CliError(err.message); // closed or sealed (sealLog checks under the log's row lock)
          throw err;
        } finally {
          await lock?.close().catch(() => undefined);
        }
      });
      process.stdout.write(
        `sealed ${opts.log} at ${out.size} records${out.size > out.lastCheckpoint ? `; records ${out.lastCheckpoint} to ${out.size - 1} were under no checkpoint until now` : ''}\n`,
      );
    });

  routed(audit.command('prove'))
    .description('print an inclusion proof of a record (or a consistency proof) as JSON, for check-proof')
    .option('--record <id>', 'record id (as in extensions.audit.recordId)')
    .option('--consistency <size>', 'prove the newest checkpoint consistent with the one of this size')
    .option('--log <id>', 'log id (with --consistency)')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: RouteOptions & { record?: string; consistency?: string; log?: string; out?: string }) => {
      if (!opts.record && !(opts.consistency && opts.log)) throw new CliError('Pass --record ID, or --consistency SIZE --log ID.');
      if (!opts.record && !/^\d+$/.test(opts.consistency!)) throw new CliError(`Pass --consistency as the size of a checkpoint (a whole number from 1), not "${opts.consistency}".`);
      const operation: AuditOperation = opts.record ? { op: 'prove', record: opts.record } : { op: 'prove', consistency: Number(opts.consistency), log: opts.log };
      const { result } = await run(cliConfig(), operation, opts);
      output(`${JSON.stringify(result, null, 2)}\n`, opts.out);
    });

  audit
    .command('check-proof')
    .description('check a proof offline with only the proof and the audit public key')
    .requiredOption('--proof <file>', 'proof JSON from `audit prove` (- for stdin)')
    .requiredOption('--key <file>', 'audit verifier key (DATA_DIR/keys/audit.pub of the gateway)')
    .action((opts: { proof: string; key: string }) => {
      let key: TrustedKey;
      try {
        key = parseVerifierKey(readFileSync(opts.key, 'utf8'));
      } catch (err) {
        throw new CliError(`${opts.key}: ${(err as Error).message}`);
      }
      let text: string;
      try {
        text = readFileSync(opts.proof === '-' ? 0 : opts.proof, 'utf8');
      } catch (err) {
        throw new CliError(`${opts.proof}: ${(err as Error).message}`);
      }
      const source = opts.proof === '-' ? 'stdin' : opts.proof;
      let proof: InclusionProof | ConsistencyProof;
      try {
        proof = parseProof(JSON.parse(text));
      } catch (err) {
        if (err instanceof SyntaxError) throw new CliError(`${source} is not a proof (JSON expected).`);
        const reason = (err as Error).message;
        throw new CliError(`${source} is not a proof: ${reason[0]!.toLowerCase()}${reason.slice(1)}`);
      }
      try {
        process.stdout.write(`ok: ${checkProof(proof, key)}\n`);
      } catch (err) {
        throw new CliError(`proof does not hold: ${(err as Error).message}`);
      }
    });

  routed(audit.command('replay'))
    .description('re-run decide() on every logged decision (policy then in force, consent as of then); exit 1 on any mismatch')
    .option('--since <time>', 'records at or after this ISO time')
    .option('--until <time>', 'records before this ISO time')
    .option('--policy <dir>', 'what-if: compare against the policy SDL in this folder instead (exit 1 when decisions would change)')
    .option('--json', 'print the report as JSON')
    .action(async (opts: RouteOptions & { since?: string; until?: string; policy?: string; json?: boolean }) => {
      const operation: AuditOperation = { op: 'replay', since: opts.since, until: opts.until };
      if (opts.policy) {
        try {
          const sources = loadPolicySources(opts.policy);
          operation.policyText = policyText(composeSupergraph(sources).supergraphSdl, sources.purposesSdl);
        } catch (err) {
          throw new CliError(`--policy ${opts.policy}: ${(err as Error).message.split('\n').join(' ')}`);
        }
      }
      const { result, seconds } = await run(cliConfig(), operation, opts);
      const report = result as ReplayReport;
      if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      else {
        for (const m of report.mismatches) {
          process.stdout.write(`${m.recordId} ${m.at} ${m.purpose ?? '-'} ${m.subscriberId ?? ''} ${m.coordinate ?? '(request)'}: logged ${m.logged}, ${opts.policy ? 'proposed policy gives' : 'replay gives'} ${m.replayed}\n`);
        }
        process.stdout.write(
          `${report.records} records, ${report.decisions} decisions replayed in ${seconds.toFixed(2)} s (${Math.round(report.decisions / Math.max(seconds, 1e-9))} decisions/s): ${report.mismatches.length} ${opts.policy ? 'would change' : 'mismatches'}\n`,
        );
      }
      if (report.mismatches.length > 0) {
        throw new CliError(opts.policy ? `${report.mismatches.length} decisions would change under ${opts.policy}` : `${report.mismatches.length} decisions do not replay`);
      }
    });

  routed(audit.command('report'))
    .description("a subscriber's access report (GDPR Art. 15): who read what, when, why")
    .requiredOption('--subscriber <id>', 'subscriber id')
    .option('--format <format>', 'json or html', 'json')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: RouteOptions & { subscriber: string; format: string; out?: string }) => {
      if (opts.format !== 'json' && opts.format !== 'html') throw new CliError(`--format must be json or html; got "${opts.format}".`);
      const { result } = await run(cliConfig(), { op: 'report', subscriber: opts.subscriber }, opts);
      const entries = result as AccessEntry[];
      output(
        opts.format === 'html'
          ? reportHtml(opts.subscriber, entries, new Date().toISOString())
          : `${JSON.stringify({ subscriberId: opts.subscriber, accesses: entries }, null, 2)}\n`,
        opts.out,
      );
    });

  routed(audit.command('export'))
    .description('the whole audit log as JSON lines: policy versions, logs, records, checkpoints')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: RouteOptions & { out?: string }) => {
      const { result } = await run(cliConfig(), { op: 'export' }, opts);
      output((result as unknown[]).map((l) => JSON.stringify(l)).join('\n') + '\n', opts.out);
    });
}
