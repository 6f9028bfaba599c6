import {
  Kind,
  parse,
  type ConstDirectiveNode,
  type DocumentNode,
  type FieldDefinitionNode,
  type ObjectTypeDefinitionNode,
  type ObjectTypeExtensionNode,
} from 'graphql';
import type { FieldPolicy, MaskStrategy, PurposeRegistry } from '../src/policy/index.js';
import { PolicyError } from './PolicyError.js';

const MASK_STRATEGIES = new Set<MaskStrategy>(['LAST4', 'PREFIX8', 'COARSE_LOCATION', 'HASH']);

/** The policy of one object type. */
export interface TypePolicy {
  name: string;
  /** The @subject key, when the type's fields are personal data. */
  subjectKey?: string;
  /** Policies of the fields that carry one (every field, for a @subject type). */
  fields: Map<string, FieldPolicy>;
}

/** Every protected type and field of a schema, read from @subject, @purpose and @mask. */
export interface PolicyMap {
  types: Map<string, TypePolicy>;
  field(typeName: string, fieldName: string): FieldPolicy | undefined;
}

function listArg(directive: ConstDirectiveNode, name: string): string[] | undefined {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  if (!arg) return undefined;
  const v = arg.value;
  if (v.kind === Kind.LIST) return v.values.map((x) => (x.kind === Kind.ENUM || x.kind === Kind.STRING ? x.value : ''));
  if (v.kind === Kind.ENUM || v.kind === Kind.STRING) return [v.value];
  return undefined;
}

function stringArg(directive: ConstDirectiveNode, name: string): string | undefined {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  return arg && (arg.value.kind === Kind.STRING || arg.value.kind === Kind.ENUM) ? arg.value.value : undefined;
}

/**
 * Reads a subgraph's (or the composed supergraph's) SDL into a policy map, and checks it:
 * every field of a @subject type is covered by @purpose, every named purpose is in the registry,
 * and every @mask purpose is also allowed. Any problem throws PolicyError naming the coordinate.
 */
export function readPolicyMap(sdl: string | DocumentNode, registry: PurposeRegistry): PolicyMap {
  const doc = typeof sdl === 'string' ? parse(sdl) : sdl;
  const problems: string[] = [];
  const defs = new Map<string, { directives: ConstDirectiveNode[]; fields: FieldDefinitionNode[] }>();
  for (const d of doc.definitions) {
    if (d.kind !== Kind.OBJECT_TYPE_DEFINITION && d.kind !== Kind.OBJECT_TYPE_EXTENSION) continue;
    const node = d as ObjectTypeDefinitionNode | ObjectTypeExtensionNode;
    const entry = defs.get(node.name.value) ?? { directives: [], fields: [] };
    entry.directives.push(...(node.directives ?? []));
    entry.fields.push(...(node.fields ?? []));
    defs.set(node.name.value, entry);
  }

  const checkPurposes = (coordinate: string, purposes: string[]) => {
    for (const p of purposes) {
      if (!registry.has(p)) problems.push(`"${coordinate}" names purpose "${p}", which is not in the purpose registry.`);
    }
  };

  const types = new Map<string, TypePolicy>();
  for (const [typeName, { directives, fields }] of defs) {
    const subject = directives.find((d) => d.name.value === 'subject');
    const typePurpose = directives.find((d) => d.name.value === 'purpose');
    const typeAllow = typePurpose ? listArg(typePurpose, 'allow') ?? [] : undefined;
    if (typeAllow) checkPurposes(typeName, typeAllow);
    const subjectKey = subject ? stringArg(subject, 'key') : undefined;
    if (subject && !subjectKey) problems.push(`@subject on "${typeName}" has no key.`);
    const policy: TypePolicy = { name: typeName, fields: new Map() };
    if (subjectKey) policy.subjectKey = subjectKey;

    const seen = new Set<string>();
    for (const field of fields) {
      const fieldName = field.name.value;
      if (seen.has(fieldName)) continue; // the supergraph may list a shared field once per subgraph
      seen.add(fieldName);
      const coordinate = `${typeName}.${fieldName}`;
      const own = field.directives?.find((d) => d.name.value === 'purpose');
      const allow = own ? listArg(own, 'allow') ?? [] : typeAllow;
      const maskDirectives = field.directives?.filter((d) => d.name.value === 'mask') ?? [];
      if (allow === undefined) {
        if (subject) problems.push(`Field "${coordinate}" of @subject type "${typeName}" is not covered by @purpose.`);
        if (maskDirectives.length > 0) problems.push(`Field "${coordinate}" has @mask but no @purpose.`);
        continue;
      }
      if (own) checkPurposes(coordinate, allow);
      const masks = new Map<string, MaskStrategy>();
      for (const m of maskDirectives) {
        const strategy = stringArg(m, 'as') as MaskStrategy | undefined;
        if (!strategy || !MASK_STRATEGIES.has(strategy)) {
          problems.push(`@mask on "${coordinate}" has unknown strategy "${String(strategy)}".`);
          continue;
        }
        const purposes = listArg(m, 'purposes') ?? [];
        checkPurposes(coordinate, purposes);
        for (const p of purposes) {
          if (!allow.includes(p)) problems.push(`@mask on "${coordinate}" names purpose "${p}", which its @purpose does not allow.`);
          if (masks.has(p)) problems.push(`"${coordinate}" has two @mask strategies for purpose "${p}".`);
          masks.set(p, strategy);
        }
      }
      policy.fields.set(fieldName, {
        coordinate,
        allow: new Set(allow),
        masks,
        identifier: subjectKey !== undefined && fieldName === subjectKey,
      });
    }
    if (policy.subjectKey !== undefined || policy.fields.size > 0) types.set(typeName, policy);
  }
  if (problems.length > 0) throw new PolicyError(problems);
  return {
    types,
    field: (typeName, fieldName) => types.get(typeName)?.fields.get(fieldName),
  };
}
