import { GraphQLError } from 'graphql';
import type { DenyReason } from '../policy/index.js';

const WHY: Record<DenyReason, string> = {
  PURPOSE_NOT_ALLOWED: '',
  CONSENT_REQUIRED: ': the subscriber has not consented',
  CONSENT_WITHDRAWN: ': the subscriber has withdrawn consent',
  OUT_OF_SCOPE: ": the subscriber is outside the caller's scope",
  MINOR: ': the subscriber is under 18',
  CONSENT_UNAVAILABLE: ': the consent store could not answer',
};

/** The field-level denial of SPEC §4: code FORBIDDEN, the reason, a message naming coordinate and purpose. */
export function forbidden(coordinate: string, purpose: string, reason: DenyReason): GraphQLError {
  return new GraphQLError(`Purpose "${purpose}" may not read "${coordinate}"${WHY[reason]}.`, {
    extensions: { code: 'FORBIDDEN', reason, coordinate },
  });
}
