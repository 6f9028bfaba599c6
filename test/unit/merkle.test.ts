import { describe, expect, it } from 'vitest';
import {
  consistencyProof,
  EMPTY_ROOT,
  Frontier,
  inclusionProof,
  leafHash,
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
    const all = leaves(70);
    const f = new Frontier();
    for (let n = 1; n <= all.length; n++) {
      f.push(all[n - 1]);
      expect(f.root().equals(rootOf(all.slice(0, n))), `size ${n}`).toBe(true);
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
