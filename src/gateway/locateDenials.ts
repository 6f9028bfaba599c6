import type { GraphQLFormattedError } from 'graphql';
import { sanitizeError } from '../subgraphs/index.js';

type Path = ReadonlyArray<string | number>;

/** What the request's fetches share to locate their denials in the gateway's response. */
export interface DenialSink {
  /**
   * The gateway's merged result as Apollo Gateway builds it: the root fetches' data keys, held by
   * reference (Apollo Gateway merges every later fetch into these same objects), so an entity
   * fetch can find the entities it was sent, as Apollo Gateway does.
   */
  fetched: Record<string, unknown>;
  /** Denials located in the response, formatted as clients receive them. */
  denials: GraphQLFormattedError[];
}

/** A subgraph's answer, in-process or remote. */
interface SubgraphAnswer {
  data?: Record<string, unknown> | null;
  errors?: ReadonlyArray<GraphQLFormattedError>;
}

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
/** Apollo Gateway's `isObject` (utilities/predicates): a non-null object that is not a list. */
const isObject = (v: unknown): v is object => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The response paths of the entities an entity fetch at `cursor` was sent, in the order they were
 * sent: Apollo Gateway's own walk (`generateHydratedPaths`), over the same objects.
 */
function entityPaths(parent: Array<string | number>, cursor: Path, depth: number, data: unknown, out: Array<Array<string | number>>): void {
  if (data === null || data === undefined) return;
  const head = cursor[depth];
  if (head === undefined) {
    out.push(parent.slice());
  } else if (Array.isArray(data)) {
    // `@` steps into the list's items; a field name over a list applies to each item.
    const next = head === '@' ? depth + 1 : depth;
    for (let i = 0; i < data.length; i++) {
      parent.push(i);
      entityPaths(parent, cursor, next, data[i], out);
      parent.pop();
    }
  } else if (head !== '@' && typeof data === 'object' && hasOwn(data, String(head))) {
    parent.push(head);
    entityPaths(parent, cursor, depth + 1, (data as Record<string, unknown>)[head], out);
    parent.pop();
  }
}

/**
 * Takes the field denials (code FORBIDDEN, with a path) out of a subgraph's answer and records
 * them in `sink`, located in the gateway's response as Apollo Gateway would locate them; every
 * other error stays in the answer for Apollo Gateway. A denial is an expected outcome, hundreds
 * in a 100-row page, and Apollo Gateway builds two GraphQLErrors for each error a subgraph returns
 * (about 4 us each, stack capture off): on S2 of `npm run bench` a tenth of the gateway's CPU.
 * The gateway adds the recorded denials to the response's errors before it is sent
 * (createGateway's willSendResponse), so none is lost.
 *
 * `cursor` is where the fetch's results go in the response (`pathInIncomingRequest`, `@` for a
 * list's items); an entity fetch (one with `representations`) reports paths under `_entities`,
 * whose index is the entity's position among those sent.
 */
export function locateDenials<A extends SubgraphAnswer>(answer: A, variables: Record<string, unknown> | undefined, cursor: Path | undefined, sink: DenialSink): A {
  const at = cursor ?? [];
  // An entity fetch always runs below the root (a client variable named `representations` in a
  // root fetch is not one).
  const entityFetch = at.length > 0 && Array.isArray(variables?.representations);
  if (at.length === 0 && answer.data) {
    // A root fetch: Apollo Gateway merges its data into the response root (deepMerge): a new key
    // is taken by reference, an object or a same-length list already there is merged into in
    // place (so the objects held here see it), anything else is replaced.
    for (const key of Object.keys(answer.data)) {
      const value = answer.data[key];
      if (value === undefined) continue;
      const held = sink.fetched[key];
      const mergedInPlace = (held && isObject(value)) || (Array.isArray(held) && Array.isArray(value) && held.length === value.length);
      if (!mergedInPlace) sink.fetched[key] = value;
    }
  }
  if (!answer.errors?.length) return answer;
  let entities: Array<Array<string | number>> | undefined;
  const kept: GraphQLFormattedError[] = [];
  for (const error of answer.errors) {
    const path = error.path;
    if (error.extensions?.code !== 'FORBIDDEN' || !Array.isArray(path)) {
      kept.push(error);
      continue;
    }
    let located: Array<string | number>;
    if (entityFetch && typeof path[1] === 'number') {
      if (!entities) entityPaths([], at, 0, sink.fetched, (entities = []));
      located = [...(entities[path[1]] ?? []), ...path.slice(2)];
    } else {
      located = [...at, ...path];
    }
    sink.denials.push(sanitizeError({ message: error.message, path: located, extensions: error.extensions }));
  }
  if (kept.length === answer.errors.length) return answer;
  const { errors: _all, ...rest } = answer;
  return (kept.length > 0 ? { ...rest, errors: kept } : rest) as A;
}
