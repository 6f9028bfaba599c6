import { GraphQLError, type GraphQLResolveInfo } from 'graphql';
import { pathToArray } from 'graphql/jsutils/Path.js';
import type { DenyReason } from '../policy/index.js';

const WHY: Record<DenyReason, string> = {
  PURPOSE_NOT_ALLOWED: '',
  CONSENT_REQUIRED: ': the subscriber has not consented',
  CONSENT_WITHDRAWN: ': the subscriber has withdrawn consent',
  OUT_OF_SCOPE: ": the subscriber is outside the caller's scope",
  MINOR: ': the subscriber is under 18',
  CONSENT_UNAVAILABLE: ': the consent store could not answer',
};

/**
 * Builds the error of a denial. A denial is an expected outcome, hundreds of them in a 100-row
 * page: its stack is never shown, so none is captured, and it is built already located (a path,
 * no AST nodes) so graphql-js takes it as it is and computes no source locations. With a path it
 * is an object of GraphQLError's prototype made without GraphQLError's constructor (which
 * captures a stack and defines properties one by one: a twentieth of the gateway's CPU on S2 of
 * `npm run bench`); it has every field GraphQLError's methods read.
 */
export function stacklessError(message: string, extensions: Record<string, unknown>, info?: GraphQLResolveInfo): GraphQLError {
  if (info) {
    const error = Object.create(GraphQLError.prototype) as GraphQLError;
    Object.assign(error, { message, path: pathToArray(info.path), extensions, locations: undefined, nodes: undefined, source: undefined, positions: undefined, originalError: undefined });
    return error;
  }
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new GraphQLError(message, { extensions });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The field-level denial of SPEC §4: code FORBIDDEN, the reason, a message naming coordinate and purpose. */
export function forbidden(coordinate: string, purpose: string, reason: DenyReason, info?: GraphQLResolveInfo): GraphQLError {
  return stacklessError(`Purpose "${purpose}" may not read "${coordinate}"${WHY[reason]}.`, { code: 'FORBIDDEN', reason, coordinate }, info);
}
