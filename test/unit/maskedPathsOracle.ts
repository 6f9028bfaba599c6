// The response walk of extensions.masked as it was before plans were compiled (commit 35ff495),
// kept as the oracle of test/unit/maskedPaths.test.ts: it walked every selection for every value.
import {
  getNamedType,
  isAbstractType,
  isObjectType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { PolicyMap } from '../../directives/index.js';
import { maskFor, type PurposeRegistry } from '../../src/policy/index.js';

/**
 * The response paths whose values were released masked. A field is masked under a purpose exactly
 * when its @mask names that purpose (decide() masks only what it releases), so every non-null
 * value at such a field is a masked one.
 */
export function maskedPaths(
  schema: GraphQLSchema,
  policy: PolicyMap,
  registry: PurposeRegistry,
  purpose: string,
  doc: DocumentNode,
  operation: OperationDefinitionNode,
  data: Record<string, unknown> | null | undefined,
): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [];
  if (!data) return out;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of doc.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const root = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!root) return out;

  /** Whether a fragment on `condition` applies to an object of `type` (equal, or an interface it implements). */
  const applies = (condition: string | undefined, type: GraphQLObjectType) => {
    if (!condition || condition === type.name) return true;
    const c = schema.getType(condition);
    return c !== undefined && isAbstractType(c) && schema.isSubType(c, type);
  };
  /** The object type of a value of abstract type: its __typename, or the only possible type. */
  const concrete = (named: ReturnType<typeof getNamedType>, value: Record<string, unknown>): GraphQLObjectType | undefined => {
    if (isObjectType(named)) return named;
    if (!isAbstractType(named)) return undefined;
    const possible = schema.getPossibleTypes(named);
    const byName = typeof value.__typename === 'string' ? possible.find((t) => t.name === value.__typename) : undefined;
    return byName ?? (possible.length === 1 ? possible[0] : undefined);
  };
  const visitValue = (value: unknown, named: ReturnType<typeof getNamedType>, set: SelectionSetNode, path: Array<string | number>) => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => visitValue(v, named, set, [...path, i]));
      return;
    }
    const type = concrete(named, value as Record<string, unknown>);
    if (type) visitSet(value as Record<string, unknown>, type, set, path);
  };
  const visitSet = (obj: Record<string, unknown>, type: GraphQLObjectType, set: SelectionSetNode, path: Array<string | number>) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (applies(sel.typeCondition?.name.value, type)) visitSet(obj, type, sel.selectionSet, path);
        continue;
      }
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const frag = fragments.get(sel.name.value);
        if (frag && applies(frag.typeCondition.name.value, type)) visitSet(obj, type, frag.selectionSet, path);
        continue;
      }
      const key = sel.alias?.value ?? sel.name.value;
      const value = obj[key];
      if (value === null || value === undefined) continue;
      const fieldDef = type.getFields()[sel.name.value];
      if (!fieldDef) continue;
      const named = getNamedType(fieldDef.type);
      if (sel.selectionSet) {
        visitValue(value, named, sel.selectionSet, [...path, key]);
        continue;
      }
      const fieldPolicy = policy.field(type.name, sel.name.value);
      if (fieldPolicy && maskFor(registry, fieldPolicy, purpose)) {
        if (Array.isArray(value)) value.forEach((v, i) => v !== null && out.push([...path, key, i]));
        else out.push([...path, key]);
      }
    }
  };
  visitSet(data, root, operation.selectionSet, []);
  return out;
}
