import type { Caller } from '../policy/index.js';
import type { DecisionEntry } from '../shield/index.js';

/**
 * Everything known about one request once it is decided: what the audit log records (issue 3).
 * Never a field value.
 */
export interface RequestOutcome {
  requestId: string;
  /** Decision time (ISO 8601). */
  at: string;
  caller?: Caller & { jti?: string; act?: unknown };
  purpose?: string;
  ref?: string;
  operationName?: string;
  /** SHA-256 (hex) of the GraphQL document text. */
  documentHash?: string;
  /** Set when the whole request was refused before execution. */
  rejection?: { code: string; status: number };
  decisions: DecisionEntry[];
}

/**
 * Receives each outcome before the response is sent. It resolves with the record id the response
 * names in `extensions.audit`; when it rejects, the client gets AUDIT_UNAVAILABLE and no data.
 */
export type OutcomeSink = (outcome: RequestOutcome) => Promise<{ recordId: string }>;
