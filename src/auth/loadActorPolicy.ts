import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.js';
import type { ActorPolicy } from './verifyToken.js';

/**
 * Reads ACTORS_FILE: a JSON object mapping a token subject (`sub`) to the actors (`act.sub`) that
 * may act for it, e.g. `{ "svc-crm": ["assistant-bot"] }`. The operator writes it; a token cannot
 * widen it, so a delegated token names only actors the operator approved for its subject.
 */
export function loadActorPolicy(file: string): ActorPolicy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError('ACTORS_FILE', 'a readable JSON file', `${file} (${(err as Error).message.split('\n')[0]})`);
  }
  const expected = 'a JSON object mapping each subject to an array of actor subjects';
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError('ACTORS_FILE', expected, file);
  const policy = new Map<string, ReadonlySet<string>>();
  for (const [subject, actors] of Object.entries(parsed)) {
    if (subject === '' || !Array.isArray(actors) || actors.some((a) => typeof a !== 'string' || a === '')) {
      throw new ConfigError('ACTORS_FILE', expected, `${file} (entry "${subject}")`);
    }
    policy.set(subject, new Set(actors as string[]));
  }
  return policy;
}
