import type DataLoader from 'dataloader';
import type { SubjectLoader } from '../consent/index.js';
import type { Caller } from '../policy/index.js';
import type { DecisionLog } from './DecisionLog.js';

/** What the gateway verified about one request; shared by every subgraph that serves it. */
export interface RequestScope {
  requestId: string;
  caller: Caller;
  /** The whole RFC 8693 `act` chain, for the audit log (decisions use the top-level claims). */
  actChain?: unknown;
  purpose: string;
  ref?: string;
  /** The request's decision time (ISO 8601). */
  at: string;
  decisions: DecisionLog;
}

/** The context every subgraph resolver and rule receives: the request scope plus this subgraph's loaders. */
export interface EnforcementContext {
  scope: RequestScope;
  subgraph: string;
  /** One per request per subgraph: one consent query however many subscribers and fields. */
  subjects: SubjectLoader;
  /** Data loaders of this subgraph for this request, by name. */
  loaders: Map<string, DataLoader<string, unknown>>;
}

/** Returns this request's data loader called `name`, creating it on first use. */
export function loaderFor<V>(ctx: EnforcementContext, name: string, create: () => DataLoader<string, V>): DataLoader<string, V> {
  let loader = ctx.loaders.get(name) as DataLoader<string, V> | undefined;
  if (!loader) {
    loader = create();
    ctx.loaders.set(name, loader as DataLoader<string, unknown>);
  }
  return loader;
}
