import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The Ed25519 key that signs a log's checkpoints. */
export interface AuditSigner {
  /** Signed-note key name, e.g. "purposegate-audit". */
  name: string;
  privateKey: KeyObject;
  /** Raw 32-byte public key. */
  publicKey: Buffer;
}

/** A parsed checkpoint: origin, tree size, root, and its extension lines (signed with the rest). */
export interface Checkpoint {
  origin: string;
  size: number;
  root: Buffer;
  /** C2SP extension lines after the root; purposegate's own: CLOSED_EXTENSION, SEALED_EXTENSION. */
  extensions?: string[];
}

/** Extension line of a log's closing checkpoint: its writer shut down at this size. */
export const CLOSED_EXTENSION = 'purposegate-log-closed';
/** Extension line (then a space and the sealing log's id) of a checkpoint a later process signed for a log whose writer stopped without closing it. */
export const SEALED_EXTENSION = 'purposegate-log-sealed-by';

/** How a note ends its log, if it does: closed by its writer, or sealed by a later process. */
export function finality(c: Checkpoint): { kind: 'closed' } | { kind: 'sealed'; by: string } | undefined {
  for (const line of c.extensions ?? []) {
    if (line === CLOSED_EXTENSION) return { kind: 'closed' };
    if (line.startsWith(`${SEALED_EXTENSION} `)) return { kind: 'sealed', by: line.slice(SEALED_EXTENSION.length + 1) };
  }
  return undefined;
}

const SIGNATURE_LINE = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/;

/** The C2SP signed-note key hash of an Ed25519 key: SHA-256(name || "\n" || 0x01 || key)[:4]. */
export function keyHash(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256').update(`${name}\n`).update(Buffer.from([0x01])).update(publicKey).digest().subarray(0, 4);
}

/** A note verifier key, as in the C2SP signed-note spec: `name+hash+base64(0x01||key)`. */
export function verifierKey(name: string, publicKey: Buffer): string {
  return `${name}+${keyHash(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.from([0x01]), publicKey]).toString('base64')}`;
}

/** Parses a verifier key made by verifierKey(). */
export function parseVerifierKey(text: string): { name: string; publicKey: Buffer } {
  // name+hash+key: the name has no "+", the hash is 8 hex digits, the base64 key may contain "+".
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(text.trim());
  const raw = Buffer.from(m?.[3] ?? '', 'base64');
  if (!m || raw.length !== 33 || raw[0] !== 0x01) throw new Error('Not an Ed25519 note verifier key.');
  const [, name, hash] = m;
  const publicKey = raw.subarray(1);
  if (keyHash(name, publicKey).toString('hex') !== hash) throw new Error('The verifier key hash does not match its key.');
  return { name, publicKey };
}

function rawPublicKey(key: KeyObject): Buffer {
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as { x: string };
  return Buffer.from(jwk.x, 'base64url');
}

function publicKeyObject(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/**
 * Loads the audit signing key from `<dataDir>/keys/`, generating it on first use. The verifier
 * key is also written to `audit.pub` for auditors.
 */
export function loadOrCreateAuditSigner(dataDir: string, name = 'purposegate-audit'): AuditSigner {
  const dir = join(dataDir, 'keys');
  const path = join(dir, 'audit.private.pem');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true });
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(path, privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  }
  const privateKey = createPrivateKey(readFileSync(path));
  const publicKey = rawPublicKey(privateKey);
  const pubPath = join(dir, 'audit.pub');
  if (!existsSync(pubPath)) writeFileSync(pubPath, `${verifierKey(name, publicKey)}\n`);
  return { name, privateKey, publicKey };
}

/** The checkpoint body: origin, size and base64 root, one per line. */
export function checkpointBody(c: Checkpoint): string {
  for (const line of c.extensions ?? []) {
    if (line === '' || /[\n\r]/.test(line)) throw new Error('A checkpoint extension line must be one non-empty line.');
  }
  return `${c.origin}\n${c.size}\n${c.root.toString('base64')}\n${(c.extensions ?? []).map((l) => `${l}\n`).join('')}`;
}

/** Signs a checkpoint as a C2SP signed note. */
export function signCheckpoint(c: Checkpoint, signer: AuditSigner): string {
  const body = checkpointBody(c);
  const signature = sign(null, Buffer.from(body), signer.privateKey);
  const blob = Buffer.concat([keyHash(signer.name, signer.publicKey), signature]).toString('base64');
  return `${body}\n\u2014 ${signer.name} ${blob}\n`;
}

/**
 * Verifies a signed checkpoint note against a trusted key and parses it. Throws with the reason
 * when the note is malformed or no signature by that key verifies.
 */
export function openCheckpoint(note: string, key: { name: string; publicKey: Buffer }): Checkpoint {
  const split = note.indexOf('\n\n');
  if (split < 0) throw new Error('The checkpoint is not a signed note.');
  const body = note.slice(0, split + 1);
  const lines = body.split('\n');
  if (lines.length < 4) throw new Error('The checkpoint body needs origin, size and root lines.');
  const [origin, sizeText, rootText] = lines;
  if (!/^\d+$/.test(sizeText)) throw new Error('The checkpoint size is not a number.');
  const root = Buffer.from(rootText, 'base64');
  if (root.length !== 32) throw new Error('The checkpoint root is not a SHA-256 hash.');
  const expectedHash = keyHash(key.name, key.publicKey);
  const verifier = publicKeyObject(key.publicKey);
  for (const line of note.slice(split + 2).split('\n')) {
    const m = SIGNATURE_LINE.exec(line);
    if (!m || m[1] !== key.name) continue;
    const blob = Buffer.from(m[2], 'base64');
    if (blob.length !== 68 || !blob.subarray(0, 4).equals(expectedHash)) continue;
    if (verify(null, Buffer.from(body), verifier, blob.subarray(4))) {
      const extensions = lines.slice(3, -1);
      return { origin, size: Number(sizeText), root, ...(extensions.length > 0 ? { extensions } : {}) };
    }
  }
  throw new Error(`No valid signature by key "${key.name}" on the checkpoint.`);
}
