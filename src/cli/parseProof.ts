import type { ConsistencyProof, InclusionProof } from '../audit/index.js';

/** A base64 SHA-256 hash: 44 characters, one trailing "=". */
const HASH_B64 = /^[A-Za-z0-9+/]{43}=$/;

/** How a JSON value arrived, for a message: its type, or the value itself when short. */
function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  const text = JSON.stringify(value);
  return text.length > 60 ? `a ${typeof value}` : text;
}

function field(proof: Record<string, unknown>, name: string, expected: string, ok: (v: unknown) => boolean): void {
  if (!ok(proof[name])) throw new Error(`The proof's "${name}" must be ${expected}; got ${shown(proof[name])}.`);
}

const isText = (v: unknown) => typeof v === 'string' && v !== '';

/**
 * Checks that a parsed JSON value has the shape `audit prove` writes (an inclusion or a
 * consistency proof) before it is checked; throws one sentence naming what is wrong.
 */
export function parseProof(value: unknown): InclusionProof | ConsistencyProof {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`A proof must be a JSON object; got ${shown(value)}.`);
  const proof = value as Record<string, unknown>;
  field(proof, 'kind', '"inclusion" or "consistency"', (v) => v === 'inclusion' || v === 'consistency');
  field(proof, 'logId', 'a log id (a non-empty string)', isText);
  if (proof.kind === 'inclusion') {
    field(proof, 'index', 'the record\'s index in its log (an integer from 0)', (v) => Number.isSafeInteger(v) && (v as number) >= 0);
    field(proof, 'leaf', 'the record\'s canonical JSON (a string holding a JSON object)', (v) => {
      if (typeof v !== 'string') return false;
      try {
        const leaf: unknown = JSON.parse(v);
        return typeof leaf === 'object' && leaf !== null && !Array.isArray(leaf);
      } catch {
        return false;
      }
    });
    field(proof, 'checkpoint', 'a signed checkpoint note (a string)', isText);
  } else {
    field(proof, 'old', 'the older signed checkpoint note (a string)', isText);
    field(proof, 'new', 'the newer signed checkpoint note (a string)', isText);
  }
  field(proof, 'proof', 'an array of base64 SHA-256 hashes', (v) => Array.isArray(v) && v.every((h) => typeof h === 'string' && HASH_B64.test(h)));
  return proof as unknown as InclusionProof | ConsistencyProof;
}
