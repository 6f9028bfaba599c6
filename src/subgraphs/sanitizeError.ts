import type { GraphQLFormattedError } from 'graphql';

/** Codes whose message is written for the client and may pass unchanged. */
const CLIENT_CODES = new Set([
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'QUERY_TOO_COMPLEX',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'SUBGRAPH_UNAVAILABLE',
]);

/**
 * The one place errors are shaped for clients: no stack trace, SQL or service name ever leaves;
 * an error that is not ours becomes "Unexpected error.".
 */
export function sanitizeError(formatted: GraphQLFormattedError): GraphQLFormattedError {
  const ext = (formatted.extensions ?? {}) as Record<string, unknown>;
  const code = typeof ext.code === 'string' ? ext.code : 'INTERNAL_SERVER_ERROR';
  const out: { message: string; path?: readonly (string | number)[]; locations?: GraphQLFormattedError['locations']; extensions: Record<string, unknown> } = {
    message: CLIENT_CODES.has(code) ? formatted.message : 'Unexpected error.',
    extensions: { code: CLIENT_CODES.has(code) ? code : 'INTERNAL_SERVER_ERROR' },
  };
  if (formatted.path) out.path = formatted.path;
  if (formatted.locations && code !== 'FORBIDDEN') out.locations = formatted.locations;
  if (code === 'FORBIDDEN') {
    out.extensions.reason = ext.reason;
    out.extensions.coordinate = ext.coordinate;
  }
  return out;
}
