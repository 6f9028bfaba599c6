import type { PolicyMap } from '../../directives/index.js';
import type { Db } from '../db/index.js';
import type { CursorCodec } from './cursor.js';
import type { PolicySources } from './loadPolicySources.js';

/** What a subgraph's resolvers need: its store, the policy, and its limits. */
export interface SubgraphDeps {
  db: Db;
  sources: PolicySources;
  /** This subgraph's policy map (from its own SDL). */
  policy: PolicyMap;
  /** Largest page a connection returns, whatever `first` asks for. @default 500 */
  maxFirst: number;
  /** Seals and opens page cursors. */
  cursors: CursorCodec;
  /**
   * False only in a subgraph built as the benchmark's unprotected baseline: no root guards and no
   * subject loading (and no rules are applied to its schema). Fixed when the schema is built.
   */
  enforce: boolean;
}
