import { describe, expect, it } from 'vitest';
import { parseProof } from '../../src/cli/parseProof.js';

const HASH = Buffer.alloc(32, 7).toString('base64');
const inclusion = { kind: 'inclusion', logId: 'gw-1', index: 3, leaf: '{"seq":3}', checkpoint: 'purposegate.audit/gw-1\n4\n…', proof: [HASH, HASH] };
const consistency = { kind: 'consistency', logId: 'gw-1', old: 'note a', new: 'note b', proof: [HASH] };

describe('parseProof', () => {
  it.each([inclusion, consistency])('accepts the shape audit prove writes ($kind)', (proof) => {
    expect(parseProof(proof)).toBe(proof);
  });

  it.each([
    { input: {}, message: 'The proof\'s "kind" must be "inclusion" or "consistency"; got nothing.' },
    { input: [], message: 'A proof must be a JSON object; got an array.' },
    { input: null, message: 'A proof must be a JSON object; got null.' },
    { input: 'proof', message: 'A proof must be a JSON object; got "proof".' },
    { input: { ...inclusion, kind: 'exclusion' }, message: 'The proof\'s "kind" must be "inclusion" or "consistency"; got "exclusion".' },
    { input: { ...inclusion, logId: '' }, message: 'The proof\'s "logId" must be a log id (a non-empty string); got "".' },
    { input: { ...inclusion, index: -1 }, message: 'The proof\'s "index" must be the record\'s index in its log (an integer from 0); got -1.' },
    { input: { ...inclusion, index: '3' }, message: 'The proof\'s "index" must be the record\'s index in its log (an integer from 0); got "3".' },
    { input: { ...inclusion, leaf: { seq: 3 } }, message: 'The proof\'s "leaf" must be the record\'s canonical JSON (a string holding a JSON object); got an object.' },
    { input: { ...inclusion, leaf: 'not json' }, message: 'The proof\'s "leaf" must be the record\'s canonical JSON (a string holding a JSON object); got "not json".' },
    { input: { ...inclusion, checkpoint: undefined }, message: 'The proof\'s "checkpoint" must be a signed checkpoint note (a string); got nothing.' },
    { input: { ...inclusion, proof: 'abc' }, message: 'The proof\'s "proof" must be an array of base64 SHA-256 hashes; got "abc".' },
    { input: { ...inclusion, proof: [HASH, 'short'] }, message: 'The proof\'s "proof" must be an array of base64 SHA-256 hashes; got an array.' },
    { input: { ...consistency, old: 7 }, message: 'The proof\'s "old" must be the older signed checkpoint note (a string); got 7.' },
    { input: { ...consistency, new: null }, message: 'The proof\'s "new" must be the newer signed checkpoint note (a string); got null.' },
  ])('refuses $input: $message', ({ input, message }) => {
    expect(() => parseProof(input)).toThrow(message);
  });
});
