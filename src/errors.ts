/** Request-level error codes of SPEC §4 (public API: tests outside ours assert them). */
export const ErrorCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  PURPOSE_REQUIRED: 'PURPOSE_REQUIRED',
  UNKNOWN_PURPOSE: 'UNKNOWN_PURPOSE',
  PURPOSE_NOT_PERMITTED: 'PURPOSE_NOT_PERMITTED',
  PURPOSE_REF_REQUIRED: 'PURPOSE_REF_REQUIRED',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  RATE_LIMITED: 'RATE_LIMITED',
  AUDIT_UNAVAILABLE: 'AUDIT_UNAVAILABLE',
  FORBIDDEN: 'FORBIDDEN',
  BAD_REQUEST: 'BAD_REQUEST',
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
  INTERNAL_SERVER_ERROR: 'INTERNAL_SERVER_ERROR',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** HTTP status of each request-level rejection. */
export const REJECTION_STATUS: Record<string, number> = {
  UNAUTHENTICATED: 401,
  PURPOSE_REQUIRED: 400,
  UNKNOWN_PURPOSE: 400,
  PURPOSE_NOT_PERMITTED: 403,
  PURPOSE_REF_REQUIRED: 403,
  QUERY_TOO_COMPLEX: 400,
  RATE_LIMITED: 429,
  AUDIT_UNAVAILABLE: 503,
  BAD_REQUEST: 400,
  GRAPHQL_PARSE_FAILED: 400,
  GRAPHQL_VALIDATION_FAILED: 400,
  OPERATION_RESOLUTION_FAILURE: 400,
};

/** A whole request refused before anything executed: no data, one error, a status. */
export class RequestRejection extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RequestRejection';
    this.status = REJECTION_STATUS[code] ?? 400;
  }
}
