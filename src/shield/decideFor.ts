import type { LoadedSubject } from '../consent/index.js';
import { decide, type Decision, type FieldPolicy, type PurposeRegistry } from '../policy/index.js';
import type { MadeDecision } from './DecisionLog.js';
import type { EnforcementContext } from './EnforcementContext.js';

/** Runs decide() for one field of one subject in this request (once: DecisionLog.decideOnce) and records it. */
export function decideFor(
  registry: PurposeRegistry,
  ctx: EnforcementContext,
  field: FieldPolicy,
  subjectId: string,
  subject: LoadedSubject,
): Decision {
  return decideMade(registry, ctx, field, subjectId, subject).decision;
}

/** As `decideFor`, returning the made decision (DecisionLog.countedMade). */
export function decideMade(
  registry: PurposeRegistry,
  ctx: EnforcementContext,
  field: FieldPolicy,
  subjectId: string,
  subject: LoadedSubject,
): MadeDecision {
  const { scope } = ctx;
  // No closure per value: a 500-row page asks this 3,500 times for seven decisions.
  return (
    scope.decisions.countedMade(subjectId, field.coordinate) ??
    scope.decisions.rememberMade(subjectId, field.coordinate, decide({ registry, field, purpose: scope.purpose, caller: scope.caller, subject, at: scope.at }))
  );
}
