import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** Log levels LOG_LEVEL accepts. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The process's structured logger: JSON lines (pino) on stderr, so stdout keeps the human start-up
 * banner. Callers log request ids, callers and purposes, never a subscriber value.
 */
export function createLogger(level: LogLevel, bindings: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...bindings }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd: 2, sync: false }));
}

/** A logger that writes nothing (tests and embedded use). */
export const silentLogger: Logger = pino({ level: 'silent' });
