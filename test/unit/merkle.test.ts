import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  EMPTY_ROOT,
  Frontier,
  perfectRoot,
  leafHashHexOfBytes,
  inclusionProof,
  leafHash,
  leafHashHex,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/merkle.js';

const leaves = (n: number) => Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

describe('RFC 9162 Merkle tree', () => {
  it('matches the RFC 6962 test vector roots for the empty tree and one leaf', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    // RFC 6962 test vector: leaf "" → 6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
    expect(rootOf([leafHash(Buffer.alloc(0))]).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
  });

  it('the streaming frontier gives the same root as the recursive definition at every size', () => {
    const all = leaves(260);
    const f = new Frontier();
    for (let n = 1; n <= all.length; n++) {
      f.push(all[n - 1]);
      expect(f.root().equals(rootOf(all.slice(0, n))), `size ${n}`).toBe(true);
    }
  });

  it('the frontier takes leaf hashes from inside a larger buffer, at any offset, and refuses one cut short', () => {
    const all = leaves(70);
    const packed = Buffer.concat([Buffer.from([7, 7, 7]), ...all]);
    const f = new Frontier();
    for (let n = 1; n <= all.length; n++) {
      f.pushFrom(packed, 3 + (n - 1) * 32);
      expect(f.root().equals(rootOf(all.slice(0, n))), `size ${n}`).toBe(true);
    }
    expect(() => f.pushFrom(packed, packed.length - 31)).toThrow(RangeError);
    expect(() => f.pushFrom(packed, -1)).toThrow(RangeError);
    expect(() => f.push(Buffer.alloc(31))).toThrow(RangeError);
    expect(() => f.push(Buffer.alloc(33))).toThrow(RangeError);
    expect(f.size).toBe(70);
  });

  it('roots a perfect subtree as the recursive definition does, and the frontier takes it whole where it sits', () => {
    const all = leaves(300);
    const packed = Buffer.concat(all);
    for (const count of [1, 2, 4, 8, 64, 256]) expect(perfectRoot(packed, count).equals(rootOf(all.slice(0, count))), `${count} leaves`).toBe(true);
    expect(perfectRoot(packed.subarray(32 * 8), 8).equals(rootOf(all.slice(8, 16)))).toBe(true);
    for (const bad of [0, 3, 6, 12, 2.5, 4.2]) expect(() => perfectRoot(packed, bad)).toThrow(RangeError);
    expect(() => perfectRoot(packed.subarray(0, 32 * 7), 8)).toThrow(RangeError);
    // Subtrees of 8 leaves, single leaves and a subtree of 4 mixed, each at a size it fits: the
    // same root as pushing every leaf, at every size reached.
    const f = new Frontier();
    const steps: Array<[number, number]> = [[0, 3], [8, 3], [16, 0], [17, 0], [18, 0], [19, 0], [20, 2], [24, 3], [32, 3], [40, 0]];
    for (const [from, height] of steps) {
      const n = 2 ** height;
      f.pushSubtree(perfectRoot(packed.subarray(from * 32), n), 0, height);
      expect(f.size).toBe(from + n);
      expect(f.root().equals(rootOf(all.slice(0, from + n))), `size ${from + n}`).toBe(true);
    }
    // A subtree that would not sit at a multiple of its size is refused, and the frontier is unchanged.
    expect(() => f.pushSubtree(perfectRoot(packed, 4), 0, 2)).toThrow(/cannot follow 41/);
    expect(() => f.pushSubtree(packed, 0, -1)).toThrow(RangeError);
    expect(() => f.pushSubtree(packed, 0, 1.5)).toThrow(RangeError);
    expect(f.size).toBe(41);
    expect(f.root().equals(rootOf(all.slice(0, 41)))).toBe(true);
  });

  it('hashes a leaf\u2019s UTF-8 bytes as it hashes its text, small or large', () => {
    for (const text of ['', '{"v":1}', 'caf\u00e9 \u20ac \u{1F600}', 'x'.repeat(70_000), 'y'.repeat(1_100_000)]) {
      const bytes = Buffer.from(text, 'utf8');
      expect(leafHashHexOfBytes(bytes), `${text.length} chars`).toBe(leafHash(bytes).toString('hex'));
      expect(leafHashHexOfBytes(bytes)).toBe(leafHashHex(text));
    }
  });

  it('hashes a leaf\u2019s text as its UTF-8 bytes, whatever its characters and length', () => {
    for (const text of ['', '{"v":1}', 'caf\u00e9 \u20ac \u{1F600}', '\u00e9'.repeat(40_000), 'x'.repeat(300_000)]) {
      expect(leafHashHex(text), `${text.length} chars`).toBe(leafHash(Buffer.from(text, 'utf8')).toString('hex'));
    }
  });

  it('inclusion proofs verify for every leaf of several sizes, and fail for a wrong leaf, index or root', () => {
    for (const n of [1, 2, 3, 5, 8, 13, 33]) {
      const all = leaves(n);
      const root = rootOf(all);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(i, all);
        expect(verifyInclusion(i, n, all[i], proof, root), `n=${n} i=${i}`).toBe(true);
        expect(verifyInclusion(i, n, leafHash(Buffer.from('forged')), proof, root)).toBe(false);
        if (n > 1) expect(verifyInclusion((i + 1) % n, n, all[i], proof, root)).toBe(false);
        expect(verifyInclusion(i, n, all[i], proof, rootOf(all.slice(0, n - 1)))).toBe(false);
      }
    }
  });

  it('consistency proofs verify between every pair of sizes, and fail when history was rewritten', () => {
    const all = leaves(21);
    for (let n = 1; n <= all.length; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(m, all.slice(0, n));
        expect(verifyConsistency(m, n, rootOf(all.slice(0, m)), rootOf(all.slice(0, n)), proof), `m=${m} n=${n}`).toBe(true);
        if (m < n) {
          const rewritten = [...all.slice(0, n)];
          rewritten[m - 1] = leafHash(Buffer.from('edited'));
          expect(verifyConsistency(m, n, rootOf(all.slice(0, m)), rootOf(rewritten), consistencyProof(m, rewritten))).toBe(false);
        }
      }
    }
  });
});

describe('signed checkpoints (C2SP signed note)', async () => {
  const { loadOrCreateAuditSigner, signCheckpoint, openCheckpoint, verifierKey, parseVerifierKey } = await import('../../src/audit/checkpoint.js');
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');

  it('round-trips verifier keys whatever characters their base64 holds', () => {
    for (let i = 0; i < 40; i++) {
      const s = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-key-')));
      const parsed = parseVerifierKey(verifierKey(s.name, s.publicKey));
      expect(parsed.publicKey.equals(s.publicKey)).toBe(true);
    }
    expect(() => parseVerifierKey('purposegate-audit+00000000+AQ==')).toThrow('Not an Ed25519 note verifier key.');
  });

  it('signs and opens a checkpoint; an edited body or another key fails', () => {
    const s = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-key-')));
    const root = rootOf(leaves(5));
    const note = signCheckpoint({ origin: 'purposegate.audit/x', size: 5, root }, s);
    expect(note).toMatch(/^purposegate\.audit\/x\n5\n[A-Za-z0-9+/]{43}=\n\n\u2014 purposegate-audit [A-Za-z0-9+/]+=*\n$/);
    expect(openCheckpoint(note, s)).toEqual({ origin: 'purposegate.audit/x', size: 5, root });
    expect(() => openCheckpoint(note.replace('\n5\n', '\n6\n'), s)).toThrow(/No valid signature/);
    const other = loadOrCreateAuditSigner(mkdtempSync(join(tmpdir(), 'pg-key-')));
    expect(() => openCheckpoint(note, other)).toThrow(/No valid signature/);
  });
});
