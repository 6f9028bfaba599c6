import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
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

/**
 * Enforces the query limits on a parsed operation: depth, aliases, root fields, `first` per page
 * and an estimated cost in which list sizes multiply. Fragments are expanded (cycles are cut:
 * GraphQL validation refuses them anyway). Throws RequestRejection(QUERY_TOO_COMPLEX).
 */
export function checkLimits(
  doc: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  limits: Limits,
): void {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

  const defaults = new Map<string, ValueNode>();
  for (const v of operation.variableDefinitions ?? []) if (v.defaultValue) defaults.set(v.variable.name.value, v.defaultValue);
  let aliases = 0;
  let maxDepth = 0;
  const tooComplex = (what: string) => new RequestRejection('QUERY_TOO_COMPLEX', `The query exceeds the ${what}.`);

  const walk = (set: SelectionSetNode, depth: number, multiplier: number, seen: ReadonlySet<string>): number => {
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.alias) aliases++;
        if (aliases > limits.aliases) throw tooComplex(`alias limit of ${limits.aliases}`);
        const d = depth + 1;
        if (d > maxDepth) maxDepth = d;
        if (maxDepth > limits.depth) throw tooComplex(`depth limit of ${limits.depth}`);
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
          cost += walk(sel.selectionSet, d, multiplier * Math.max(1, first), seen);
          if (cost > limits.cost) throw tooComplex(`cost limit of ${limits.cost}`);
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        cost += walk(sel.selectionSet, depth, multiplier, seen);
      } else {
        const name = sel.name.value;
        const frag = fragments.get(name);
        if (frag && !seen.has(name)) cost += walk(frag.selectionSet, depth, multiplier, new Set([...seen, name]));
      }
    }
    return cost;
  };

  const rootFields = countRootFields(operation.selectionSet, fragments, new Set());
  if (rootFields > limits.rootFields) throw tooComplex(`root field limit of ${limits.rootFields}`);
  walk(operation.selectionSet, 0, 1, new Set());
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
