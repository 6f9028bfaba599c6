import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readPolicyMap } from '../../directives/index.js';
import { composeSupergraph } from '../../src/gateway/index.js';
import { DEFAULT_SCHEMA_DIR, loadPolicySources } from '../../src/subgraphs/index.js';

describe('composition', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
  const copy = () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-compose-'));
    dirs.push(dir);
    cpSync(DEFAULT_SCHEMA_DIR, dir, { recursive: true });
    return dir;
  };

  it('keeps @purpose, @subject and @mask in the supergraph and strips them from the API schema', () => {
    const { supergraphSdl, apiSdl } = composeSupergraph(loadPolicySources());
    expect(supergraphSdl).toContain('directive @purpose(allow: [Purpose!]!) on FIELD_DEFINITION | OBJECT');
    const policy = readPolicyMap(supergraphSdl, loadPolicySources().registry);
    expect(policy.field('Device', 'imei')!.masks.get('ANALYTICS')).toBe('HASH');
    expect(apiSdl).not.toMatch(/@purpose|@mask|@subject/);
  });

  it('treats a policy that differs between subgraphs (inconsistent directive arguments) as an error', () => {
    const dir = copy();
    const file = join(dir, 'devices.graphql');
    // Subscriber.id is shared by every subgraph; give it a different @purpose in one of them.
    writeFileSync(file, readFileSync(file, 'utf8').replace(/id: ID! @purpose\(allow: \[[^\]]*\]\)/, 'id: ID! @purpose(allow: [LAW_ENFORCEMENT])'));
    expect(() => composeSupergraph(loadPolicySources(dir))).toThrow(/The policy differs between subgraphs:[\s\S]*@purpose/);
  });
});
