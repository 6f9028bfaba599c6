import type { Caller } from '../policy/index.js';

/** One decision as the log keeps it: never a field value. */
export interface LoggedDecision {
  subscriberId: string;
  coordinate: string;
  effect: 'ALLOW' | 'MASK' | 'DENY';
  reason?: string;
  strategy?: string;
  consentEventId?: string;
  count: number;
}

/** The leaf: one record per request, hashed as RFC 8785 canonical JSON. */
export interface AuditLeaf {
  v: 1;
  logId: string;
  seq: number;
  recordId: string;
  /** Decision time (ISO 8601). */
  at: string;
  requestId: string;
  caller: (Caller & { jti?: string; act?: unknown }) | null;
  purpose: string | null;
  ref: string | null;
  operationName: string | null;
  documentHash: string | null;
  /** SHA-256 of the policy the request was decided under (policy_versions). */
  policyVersion: string;
  rejection: { code: string; status: number } | null;
  decisions: LoggedDecision[];
}

/** What a caller of the writer hands in: everything but the position in the log. */
export type AuditEntry = Omit<AuditLeaf, 'v' | 'logId' | 'seq' | 'recordId' | 'policyVersion'>;

/** The id of record `seq` of log `logId`. */
export function recordIdOf(logId: string, seq: number): string {
  return `${logId}-${seq}`;
}
