import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import {
  Kind,
  validate,
  type DirectiveNode,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';
import type { Limits } from '../config.js';
import { RequestRejection } from '../errors.js';

/** Expected sizes of list fields that take no `first`, for the cost estimate. */
const LIST_SIZES: Record<string, number> = { devices: 3, invoices: 12, consents: 8 };
/** Default `first` of connection fields, as the schema declares it. */
const DEFAULT_FIRST: Record<string, number> = { subscribers: 20, callDetailRecords: 50, accessLog: 50, myAccessLog: 50 };

/** The value of an Int argument: a literal, a sent variable, or the variable's default. */
function intValue(node: ValueNode | undefined, variables: Record<string, unknown>, defaults: Map<string, ValueNode>): number | undefined {
  if (!node) return undefined;
  if (node.kind === Kind.INT) return Number(node.value);
  if (node.kind === Kind.VARIABLE) {
    const v = variables[node.name.value];
    if (typeof v === 'number') return v;
    const d = defaults.get(node.name.value);
    return d && d.kind === Kind.INT ? Number(d.value) : undefined;
  }
  return undefined;
}

/** Finds the operation a request will run (by name, or the only one). */
export function selectOperation(doc: DocumentNode, operationName: string | undefined): OperationDefinitionNode | undefined {
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return ops.find((o) => o.name?.value === operationName);
  return ops.length === 1 ? ops[0] : undefined;
}

const tooComplex = (what: string) => new RequestRejection('QUERY_TOO_COMPLEX', `The query exceeds the ${what}.`);

/**
 * Enforces the query limits on a parsed document, before GraphQL validation and execution; throws
 * RequestRejection(QUERY_TOO_COMPLEX) naming the first limit exceeded.
 *
 * Depth and aliases are graphql-armor's validation rules (every operation of the document; each
 * fragment spread counted where it is spread, introspection included, `__typename` aliases too).
 * Root fields, directives, `first` per page and cost are counted here, on the operation that will
 * run, with fragments expanded at each spread: graphql-armor has no root-field rule; its
 * max-directives (2.3.1) drops the directives written on a fragment spread when the same fragment
 * is spread again (`...F @a @a ...F @a @a` counts 2), so it cannot hold a limit; and its
 * cost-limit reads only literal `first`/`last` (a `first: $n` variable costs as 1) and knows
 * neither our default page sizes nor the expected sizes of plain lists.
 */
export function checkLimits(
  schema: GraphQLSchema,
  doc: DocumentNode,
  operation: OperationDefinitionNode | undefined,
  variables: Record<string, unknown>,
  limits: Limits,
): void {
  let rejection: RequestRejection | undefined;
  const reject = (what: string) => () => {
    rejection ??= tooComplex(what);
  };
  // Every option set explicitly: a limit must not depend on a library default.
  validate(schema, doc, [
    maxDepthRule({
      n: limits.depth,
      ignoreIntrospection: false,
      flattenFragments: true, // depth of fields: a fragment adds no level of its own
      exposeLimits: false,
      errorMessage: 'Depth limit exceeded.',
      propagateOnRejection: false,
      onAccept: [],
      onReject: [reject(`depth limit of ${limits.depth}`)],
    }),
    maxAliasesRule({
      n: limits.aliases,
      allowList: [], // aliasing __typename is still an alias
      exposeLimits: false,
      errorMessage: 'Alias limit exceeded.',
      propagateOnRejection: false,
      onAccept: [],
      onReject: [reject(`alias limit of ${limits.aliases}`)],
    }),
  ]);
  if (rejection) throw rejection;
  if (!operation) return; // no operation to run: GraphQL validation answers

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const rootFields = countRootFields(operation.selectionSet, fragments, new Set());
  if (rootFields > limits.rootFields) throw tooComplex(`root field limit of ${limits.rootFields}`);

  const defaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? []) if (v.defaultValue) defaults.set(v.variable.name.value, v.defaultValue);
  let directives = 0;
  const countDirectives = (nodes: readonly DirectiveNode[] | undefined) => {
    directives += nodes?.length ?? 0;
    if (directives > limits.directives) throw tooComplex(`directive limit of ${limits.directives}`);
  };
  countDirectives(operation.directives);
  for (const v of operation.variableDefinitions ?? []) countDirectives(v.directives);

  const walk = (set: SelectionSetNode, multiplier: number, seen: ReadonlySet<string>): number => {
    let cost = 0;
    for (const sel of set.selections) {
      countDirectives(sel.directives);
      if (sel.kind === Kind.FIELD) {
        cost += multiplier;
        if (cost > limits.cost) throw tooComplex(`cost limit of ${limits.cost}`);
        if (sel.selectionSet) {
          const name = sel.name.value;
          const firstArg = sel.arguments?.find((a) => a.name.value === 'first');
          let first = intValue(firstArg?.value, variables, defaults);
          // A `first` we cannot read (a variable of another type, say) counts as the largest page.
          if (firstArg && first === undefined) first = limits.first;
          if (first !== undefined && first > limits.first) throw tooComplex(`page size limit of ${limits.first} (first: ${first})`);
          first ??= DEFAULT_FIRST[name] ?? LIST_SIZES[name] ?? 1;
          cost += walk(sel.selectionSet, multiplier * Math.max(1, first), seen);
          if (cost > limits.cost) throw tooComplex(`cost limit of ${limits.cost}`);
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        cost += walk(sel.selectionSet, multiplier, seen);
      } else {
        // Fragments are expanded at each spread; a cycle is cut (GraphQL validation refuses it).
        const name = sel.name.value;
        const frag = fragments.get(name);
        if (frag && !seen.has(name)) {
          countDirectives(frag.directives);
          cost += walk(frag.selectionSet, multiplier, new Set([...seen, name]));
        }
      }
    }
    return cost;
  };
  walk(operation.selectionSet, 1, new Set());
}

function countRootFields(set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen: Set<string>): number {
  let n = 0;
  for (const sel of set.selections) {
    if (sel.kind === Kind.FIELD) n += sel.name.value === '__typename' ? 0 : 1;
    else if (sel.kind === Kind.INLINE_FRAGMENT) n += countRootFields(sel.selectionSet, fragments, seen);
    else if (!seen.has(sel.name.value) && fragments.has(sel.name.value)) {
      seen.add(sel.name.value);
      n += countRootFields(fragments.get(sel.name.value)!.selectionSet, fragments, seen);
    }
  }
  return n;
}

/** Whether the operation asks for the schema (`__schema` / `__type`) anywhere. */
export function usesIntrospection(doc: DocumentNode): boolean {
  let found = false;
  const visit = (set: SelectionSetNode | undefined) => {
    if (!set || found) return;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value === '__schema' || sel.name.value === '__type') found = true;
        visit(sel.selectionSet);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) visit(sel.selectionSet);
    }
  };
  for (const d of doc.definitions) {
    if (d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION) visit(d.selectionSet);
  }
  return found;
}
