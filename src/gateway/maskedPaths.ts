import {
  getNamedType,
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
import { maskFor, type PurposeRegistry } from '../policy/index.js';

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

  const visitValue = (value: unknown, type: GraphQLObjectType, set: SelectionSetNode, path: Array<string | number>) => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      value.forEach((v, i) => visitValue(v, type, set, [...path, i]));
      return;
    }
    visitSet(value as Record<string, unknown>, type, set, path);
  };
  const visitSet = (obj: Record<string, unknown>, type: GraphQLObjectType, set: SelectionSetNode, path: Array<string | number>) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (!sel.typeCondition || sel.typeCondition.name.value === type.name) visitSet(obj, type, sel.selectionSet, path);
        continue;
      }
      if (sel.kind === Kind.FRAGMENT_SPREAD) {
        const frag = fragments.get(sel.name.value);
        if (frag && frag.typeCondition.name.value === type.name) visitSet(obj, type, frag.selectionSet, path);
        continue;
      }
      const key = sel.alias?.value ?? sel.name.value;
      const value = obj[key];
      if (value === null || value === undefined) continue;
      const fieldDef = type.getFields()[sel.name.value];
      if (!fieldDef) continue;
      const named = getNamedType(fieldDef.type);
      if (sel.selectionSet && isObjectType(named)) {
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
