import { createHash } from 'node:crypto';
import type { Db } from '../db/index.js';

const REGISTRY_MARKER = '\n# ---- purpose registry (schema/purposes.graphql) ----\n';

/** The policy text a version hash names: the composed supergraph SDL and the purpose registry. */
export function policyText(supergraphSdl: string, purposesSdl: string): string {
  return supergraphSdl + REGISTRY_MARKER + purposesSdl;
}

/** Splits a stored policy text back into its supergraph SDL and registry SDL. */
export function splitPolicyText(text: string): { supergraphSdl: string; purposesSdl: string } {
  const i = text.indexOf(REGISTRY_MARKER);
  if (i < 0) throw new Error('Stored policy text has no purpose registry.');
  return { supergraphSdl: text.slice(0, i), purposesSdl: text.slice(i + REGISTRY_MARKER.length) };
}

/** Stores a policy version (idempotent) and returns its SHA-256 (hex). */
export async function storePolicyVersion(db: Pick<Db, 'query'>, text: string): Promise<string> {
  const hash = createHash('sha256').update(text).digest('hex');
  await db.query('INSERT INTO policy_versions (hash, sdl) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING', [hash, text]);
  return hash;
}

/** Reads a stored policy version's text, checking it still hashes to its name. */
export async function loadPolicyVersion(db: Pick<Db, 'query'>, hash: string): Promise<string> {
  const { rows } = await db.query<{ sdl: string }>('SELECT sdl FROM policy_versions WHERE hash = $1', [hash]);
  if (!rows[0]) throw new Error(`Policy version ${hash} is not in the store.`);
  if (createHash('sha256').update(rows[0].sdl).digest('hex') !== hash) throw new Error(`Policy version ${hash} was altered in the store.`);
  return rows[0].sdl;
}
