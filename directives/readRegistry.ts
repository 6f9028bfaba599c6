import { Kind, parse, type ConstDirectiveNode, type DocumentNode, type EnumTypeDefinitionNode } from 'graphql';
import type { ConsentMode, LawfulBasis, PurposeDef, PurposeRegistry } from '../src/policy/index.js';

function argValue(directive: ConstDirectiveNode, name: string): string | undefined {
  const arg = directive.arguments?.find((a) => a.name.value === name);
  if (!arg) return undefined;
  const v = arg.value;
  return v.kind === Kind.ENUM || v.kind === Kind.STRING ? v.value : undefined;
}

/**
 * Reads the purpose registry from the `enum Purpose` of schema/purposes.graphql: each value's
 * @basis gives its lawful basis, consent mode, reference requirement and parent.
 */
export function readRegistry(sdl: string | DocumentNode): PurposeRegistry {
  const doc = typeof sdl === 'string' ? parse(sdl) : sdl;
  const enumDef = doc.definitions.find(
    (d): d is EnumTypeDefinitionNode => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'Purpose',
  );
  if (!enumDef) throw new Error('The purpose registry has no "enum Purpose".');
  const registry = new Map<string, PurposeDef>();
  for (const value of enumDef.values ?? []) {
    const name = value.name.value;
    const basis = value.directives?.find((d) => d.name.value === 'basis');
    if (!basis) throw new Error(`Purpose "${name}" has no @basis.`);
    const kind = argValue(basis, 'kind') as LawfulBasis | undefined;
    if (!kind) throw new Error(`Purpose "${name}" has a @basis without kind.`);
    const consent = argValue(basis, 'consent') as ConsentMode | undefined;
    if (kind === 'CONSENT' && !consent) throw new Error(`Purpose "${name}" has basis CONSENT but no consent mode.`);
    const def: PurposeDef = { name, basis: kind };
    if (consent) def.consent = consent;
    const ref = argValue(basis, 'ref');
    if (ref) def.ref = ref;
    const parent = argValue(basis, 'parent');
    if (parent) def.parent = parent;
    registry.set(name, def);
  }
  for (const def of registry.values()) {
    if (def.parent !== undefined && !registry.has(def.parent)) {
      throw new Error(`Purpose "${def.name}" has parent "${def.parent}", which is not in the registry.`);
    }
  }
  return registry;
}
