export { buildRules, type RuleTree, type PolicyRule, type Verdict } from './buildRules.js';
export { applyRules, ruleFailed, type ApplyRulesOptions } from './applyRules.js';
export { DecisionLog, isDecisionEntry, type DecisionEntry } from './DecisionLog.js';
export { decideFor } from './decideFor.js';
export { forbidden } from './forbidden.js';
export { loaderFor, type EnforcementContext, type RequestScope } from './EnforcementContext.js';
