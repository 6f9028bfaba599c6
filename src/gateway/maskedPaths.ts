import {
  getNamedType,
  isAbstractType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { PolicyMap } from '../../directives/index.js';
import { maskFor, type PurposeRegistry } from '../policy/index.js';

/**
 * One response key of a selection set that leads to masked values: the key of a masked leaf, or
 * of a field whose selection set holds one (then `child` says how to go on below it).
 */
interface Step {
  key: string;
  masked: boolean;
  child?: Child;
}

/** The steps below a composite field: by concrete object type when the field's type is abstract. */
type Child =
  | { kind: 'object'; steps: Step[] }
  | { kind: 'abstract'; byType: Map<string, Step[]>; possible: ReadonlySet<string>; only?: string };

/**
 * The steps of an operation under one purpose: a walk of the selection sets, done once per
 * operation document, that keeps only the branches reaching a masked field. The response walk
 * then visits those branches and nothing else (on a full profile, a few fields of hundreds).
 */
function compile(
  schema: GraphQLSchema,
  policy: PolicyMap,
  registry: PurposeRegistry,
  purpose: string,
  doc: DocumentNode,
  root: GraphQLObjectType,
  operation: OperationDefinitionNode,
): Step[] {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);

  /** Whether a fragment on `condition` applies to an object of `type` (equal, or an interface it implements). */
  const applies = (condition: string | undefined, type: GraphQLObjectType) => {
    if (!condition || condition === type.name) return true;
    const c = schema.getType(condition);
    return c !== undefined && isAbstractType(c) && schema.isSubType(c, type);
  };

  /** The fields selected on `type` by `sets`, merged by response key, fragments flattened. */
  const collect = (
    type: GraphQLObjectType,
    sets: readonly SelectionSetNode[],
    into: Map<string, { fieldName: string; sets: SelectionSetNode[] }>,
    // A fragment spread twice into the same selection adds nothing the second time (as graphql-js
    // collects fields): without this, nested repeated spreads would multiply the work.
    visited = new Set<string>(),
  ) => {
    for (const set of sets) {
      for (const sel of set.selections) {
        if (sel.kind === Kind.INLINE_FRAGMENT) {
          if (applies(sel.typeCondition?.name.value, type)) collect(type, [sel.selectionSet], into, visited);
        } else if (sel.kind === Kind.FRAGMENT_SPREAD) {
          if (visited.has(sel.name.value)) continue;
          visited.add(sel.name.value);
          const frag = fragments.get(sel.name.value);
          if (frag && applies(frag.typeCondition.name.value, type)) collect(type, [frag.selectionSet], into, visited);
        } else {
          const key = sel.alias?.value ?? sel.name.value;
          const entry = into.get(key) ?? { fieldName: sel.name.value, sets: [] };
          if (sel.selectionSet) entry.sets.push(sel.selectionSet);
          into.set(key, entry);
        }
      }
    }
    return into;
  };

  const stepsOf = (type: GraphQLObjectType, sets: readonly SelectionSetNode[]): Step[] => {
    const steps: Step[] = [];
    for (const [key, { fieldName, sets: below }] of collect(type, sets, new Map())) {
      const fieldDef = type.getFields()[fieldName];
      if (!fieldDef) continue; // __typename
      if (below.length > 0) {
        const child = childOf(getNamedType(fieldDef.type), below);
        if (child) steps.push({ key, masked: false, child });
        continue;
      }
      const fieldPolicy = policy.field(type.name, fieldName);
      if (fieldPolicy && maskFor(registry, fieldPolicy, purpose)) steps.push({ key, masked: true });
    }
    return steps;
  };

  const childOf = (named: GraphQLNamedType, sets: readonly SelectionSetNode[]): Child | undefined => {
    if (isObjectType(named)) {
      const steps = stepsOf(named, sets);
      return steps.length > 0 ? { kind: 'object', steps } : undefined;
    }
    if (!isAbstractType(named)) return undefined;
    const possible = schema.getPossibleTypes(named);
    const byType = new Map<string, Step[]>();
    for (const t of possible) {
      const steps = stepsOf(t, sets);
      if (steps.length > 0) byType.set(t.name, steps);
    }
    if (byType.size === 0) return undefined;
    // Without __typename in the value, only a type with a single possible object type is known.
    return { kind: 'abstract', byType, possible: new Set(possible.map((t) => t.name)), ...(possible.length === 1 ? { only: possible[0].name } : {}) };
  };

  return stepsOf(root, [operation.selectionSet]);
}

/**
 * The response paths whose values were released masked, for one gateway's schema and policy. A
 * field is masked under a purpose exactly when its @mask names that purpose (decide() masks only
 * what it releases), so every non-null value at such a field is a masked one. What to walk is
 * worked out once per parsed operation and purpose (Apollo keeps parsed documents, so a repeated
 * query reuses its plan).
 */
export function createMaskedPaths(schema: GraphQLSchema, policy: PolicyMap, registry: PurposeRegistry) {
  const plans = new WeakMap<OperationDefinitionNode, Map<string, Step[]>>();

  // One path, pushed and popped as the walk goes; copied only for a masked value's entry.
  const walkSteps = (obj: Record<string, unknown>, steps: readonly Step[], path: Array<string | number>, out: Array<Array<string | number>>) => {
    for (const step of steps) {
      const value = obj[step.key];
      if (value === null || value === undefined) continue;
      path.push(step.key);
      if (step.masked) {
        if (Array.isArray(value)) {
          for (let i = 0; i < value.length; i++) if (value[i] !== null) out.push([...path, i]);
        } else {
          out.push(path.slice());
        }
      } else {
        walkValue(value, step.child!, path, out);
      }
      path.pop();
    }
  };
  const walkValue = (value: unknown, child: Child, path: Array<string | number>, out: Array<Array<string | number>>) => {
    if (value === null || value === undefined || typeof value !== 'object') return;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        path.push(i);
        walkValue(value[i], child, path, out);
        path.pop();
      }
      return;
    }
    const obj = value as Record<string, unknown>;
    if (child.kind === 'object') return walkSteps(obj, child.steps, path, out);
    // The object's type: its __typename when that names a possible type, else the only possible
    // type if there is one (a client may alias another field as __typename).
    const typeName = typeof obj.__typename === 'string' && child.possible.has(obj.__typename) ? obj.__typename : child.only;
    const steps = typeName === undefined ? undefined : child.byType.get(typeName);
    if (steps) walkSteps(obj, steps, path, out);
  };

  return function maskedPaths(
    purpose: string,
    doc: DocumentNode,
    operation: OperationDefinitionNode,
    data: Record<string, unknown> | null | undefined,
  ): Array<Array<string | number>> {
    const out: Array<Array<string | number>> = [];
    if (!data) return out;
    const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
    if (!root) return out;
    let byPurpose = plans.get(operation);
    if (!byPurpose) plans.set(operation, (byPurpose = new Map()));
    let steps = byPurpose.get(purpose);
    if (!steps) byPurpose.set(purpose, (steps = compile(schema, policy, registry, purpose, doc, root, operation)));
    walkSteps(data, steps, [], out);
    return out;
  };
}
