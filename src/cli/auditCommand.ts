import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  checkProof,
  dbAuditStore,
  parseVerifierKey,
  policyFromText,
  policyText,
  proveConsistency,
  proveRecord,
  replay,
  reportHtml,
  subscriberAccesses,
  verifyLogs,
  type TrustedKey,
} from '../audit/index.js';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { composeSupergraph } from '../gateway/index.js';
import { loadPolicySources } from '../subgraphs/index.js';
import { cliConfig, route, withStore } from './context.js';
import { CliError } from './fail.js';

/** Trusted checkpoint keys: DATA_DIR/keys/audit.pub plus any --key files. */
function trustedKeys(config: Config, files: string[]): TrustedKey[] {
  const paths = [...files];
  const own = join(config.dataDir, 'keys', 'audit.pub');
  if (existsSync(own)) paths.push(own);
  if (paths.length === 0) throw new CliError('No trusted audit key: pass --key FILE (a note verifier key, as in DATA_DIR/keys/audit.pub).');
  return paths.flatMap((p) =>
    readFileSync(p, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => {
        try {
          return parseVerifierKey(l);
        } catch (err) {
          throw new CliError(`${p}: ${(err as Error).message}`);
        }
      }),
  );
}

/** Runs `fn` on the store, refusing when a server holds the embedded DATA_DIR. */
async function onStore<T>(config: Config, fn: (db: Db) => Promise<T>): Promise<T> {
  if (route(config, undefined).kind === 'server') {
    throw new CliError(
      `A server holds the embedded DATA_DIR "${config.dataDir}": stop it first (audit commands read the store directly; use DATABASE_URL to audit a running deployment).`,
    );
  }
  return withStore(config, fn);
}

const collect = (v: string, prev: string[]) => [...prev, v];

function progress(label: string): ((n: number, total?: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  return (n, total) => {
    const pct = total ? ` ${Math.floor((100 * n) / total)}%` : '';
    const bar = total ? `[${'#'.repeat(Math.floor((30 * n) / total)).padEnd(30, '.')}]` : '';
    process.stderr.write(`\r${label} ${bar}${pct} ${n}${total ? `/${total}` : ''}   `);
  };
}

/** `purposegate audit …`: verify, prove, check-proof, replay, report, export. */
export function auditCommand(program: Command): void {
  const audit = program.command('audit').description('verify, prove, replay and report the tamper-evident audit log');

  audit
    .command('verify')
    .description('recompute every leaf and root, check every checkpoint signature; exit 1 on any break')
    .option('--key <file>', 'trusted audit verifier key (repeatable; DATA_DIR/keys/audit.pub is always trusted)', collect, [])
    .action(async (opts: { key: string[] }) => {
      const config = cliConfig();
      const keys = trustedKeys(config, opts.key);
      let n = 0;
      let seconds = 0;
      const tick = progress('verify');
      const report = await onStore(config, async (db) => {
        const started = process.hrtime.bigint();
        const r = await verifyLogs(dbAuditStore(db), keys, tick ? () => ++n % 5000 === 0 && tick(n) : undefined);
        seconds = Number(process.hrtime.bigint() - started) / 1e9;
        return r;
      });
      if (tick) process.stderr.write('\n');
      for (const l of report.logs) {
        process.stdout.write(`${l.problem ? 'BROKEN' : 'ok    '} ${l.logId}: ${l.records} records, ${l.checkpoints} checkpoints${l.problem ? ` — index ${l.problem.index}: ${l.problem.message}` : ''}\n`);
      }
      process.stdout.write(`${report.leaves} leaves in ${report.logs.length} logs checked in ${seconds.toFixed(2)} s (${Math.round(report.leaves / Math.max(seconds, 1e-9))} leaves/s)\n`);
      if (!report.ok) throw new CliError(`audit log broken: log ${report.problem!.logId} index ${report.problem!.index}: ${report.problem!.message}`);
    });

  audit
    .command('prove')
    .description('print an inclusion proof of a record (or a consistency proof) as JSON, for check-proof')
    .option('--record <id>', 'record id (as in extensions.audit.recordId)')
    .option('--consistency <size>', 'prove the newest checkpoint consistent with the one of this size')
    .option('--log <id>', 'log id (with --consistency)')
    .action(async (opts: { record?: string; consistency?: string; log?: string }) => {
      const config = cliConfig();
      const proof = await onStore(config, async (db) => {
        const store = dbAuditStore(db);
        try {
          if (opts.record) return await proveRecord(store, opts.record);
          if (opts.consistency && opts.log) return await proveConsistency(store, opts.log, Number(opts.consistency));
        } catch (err) {
          throw new CliError((err as Error).message);
        }
        throw new CliError('Pass --record ID, or --consistency SIZE --log ID.');
      });
      process.stdout.write(`${JSON.stringify(proof, null, 2)}\n`);
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
      let proof;
      try {
        proof = JSON.parse(readFileSync(opts.proof === '-' ? 0 : opts.proof, 'utf8'));
      } catch {
        throw new CliError(`${opts.proof} is not a proof (JSON expected).`);
      }
      try {
        process.stdout.write(`ok: ${checkProof(proof, key)}\n`);
      } catch (err) {
        throw new CliError(`proof does not hold: ${(err as Error).message}`);
      }
    });

  audit
    .command('replay')
    .description('re-run decide() on every logged decision (policy then in force, consent as of then); exit 1 on any mismatch')
    .option('--since <time>', 'records at or after this ISO time')
    .option('--until <time>', 'records before this ISO time')
    .option('--policy <dir>', 'what-if: compare against the policy SDL in this folder instead')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { since?: string; until?: string; policy?: string; json?: boolean }) => {
      const config = cliConfig();
      for (const [name, v] of [['--since', opts.since], ['--until', opts.until]] as const) {
        if (v !== undefined && Number.isNaN(Date.parse(v))) throw new CliError(`${name} must be an ISO 8601 time; got "${v}".`);
      }
      let proposed: ReturnType<typeof policyFromText> | undefined;
      if (opts.policy) {
        try {
          const sources = loadPolicySources(opts.policy);
          proposed = policyFromText(policyText(composeSupergraph(sources).supergraphSdl, sources.purposesSdl));
        } catch (err) {
          throw new CliError(`--policy ${opts.policy}: ${(err as Error).message.split('\n').join(' ')}`);
        }
      }
      const tick = progress('replay');
      let seconds = 0;
      const report = await onStore(config, async (db) => {
        const started = process.hrtime.bigint();
        const r = await replay({ store: dbAuditStore(db), db, since: opts.since, until: opts.until, proposed, onProgress: tick ? (n) => tick(n) : undefined });
        seconds = Number(process.hrtime.bigint() - started) / 1e9;
        return r;
      });
      if (tick) process.stderr.write('\n');
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

  audit
    .command('report')
    .description("a subscriber's access report (GDPR Art. 15): who read what, when, why")
    .requiredOption('--subscriber <id>', 'subscriber id')
    .option('--format <format>', 'json or html', 'json')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: { subscriber: string; format: string; out?: string }) => {
      if (opts.format !== 'json' && opts.format !== 'html') throw new CliError(`--format must be json or html; got "${opts.format}".`);
      const config = cliConfig();
      const entries = await onStore(config, (db) => subscriberAccesses(db, opts.subscriber));
      const text =
        opts.format === 'html'
          ? reportHtml(opts.subscriber, entries, new Date().toISOString())
          : `${JSON.stringify({ subscriberId: opts.subscriber, accesses: entries }, null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });

  audit
    .command('export')
    .description('the whole audit log as JSON lines: logs, policy versions, records, checkpoints')
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (opts: { out?: string }) => {
      const config = cliConfig();
      const lines: string[] = [];
      await onStore(config, async (db) => {
        const store = dbAuditStore(db);
        const versions = await db.query<{ hash: string; sdl: string }>('SELECT hash, sdl FROM policy_versions ORDER BY created_at, hash');
        for (const v of versions.rows) lines.push(JSON.stringify({ type: 'policyVersion', hash: v.hash, sdl: v.sdl }));
        for (const log of await store.logs()) {
          lines.push(JSON.stringify({ type: 'log', ...log }));
          for (let seq = 0; ; ) {
            const page = await store.records(log.logId, seq, 10_000);
            for (const r of page) lines.push(JSON.stringify({ type: 'record', logId: log.logId, seq: r.seq, recordId: r.recordId, leafHash: r.leafHash, leaf: JSON.parse(r.body) }));
            if (page.length < 10_000) break;
            seq = page[page.length - 1].seq + 1;
          }
          for (const c of await store.checkpoints(log.logId)) lines.push(JSON.stringify({ type: 'checkpoint', logId: log.logId, size: c.size, note: c.note }));
        }
      });
      const text = lines.join('\n') + '\n';
      if (opts.out) writeFileSync(opts.out, text);
      else process.stdout.write(text);
    });
}
