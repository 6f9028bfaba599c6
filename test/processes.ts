import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The package's `purposegate` command. */
export const BIN = join(import.meta.dirname, '../bin/purposegate.js');

/** Runs the CLI; resolves with exit code and output instead of throwing. */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A `purposegate serve` process, its URL and everything it printed. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
  /** Sends SIGTERM (if still running) and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `purposegate <args>` as a real process and waits for "listening on <url>". NODE_ENV is
 * production: outside tests Apollo would install its own signal handlers (it must not).
 */
async function spawnListening(args: string[], env: Record<string, string>): Promise<ServeProcess> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (b) => (output += b));
  child.stderr!.on('data', (b) => (output += b));
  const deadline = Date.now() + 90_000;
  while (!/listening on (\S+)/.test(output)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`${args.join(' ')} did not start:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    url: /listening on (\S+)/.exec(output)![1],
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Starts `purposegate serve` and waits until it listens. */
export function spawnServe(env: Record<string, string>): Promise<ServeProcess> {
  return spawnListening(['serve'], env);
}

/** A `purposegate subgraph NAME` process and its URL. */
export interface SubgraphProcess extends ServeProcess {
  name: string;
}

/** Starts `purposegate subgraph NAME` on a free port and waits until it listens. */
export async function spawnSubgraph(name: string, env: Record<string, string>): Promise<SubgraphProcess> {
  return { name, ...(await spawnListening(['subgraph', name], { ...env, PORT: '0' })) };
}
