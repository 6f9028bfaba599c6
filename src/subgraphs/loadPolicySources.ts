import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kind, parse, print, visit, type DocumentNode, type EnumTypeDefinitionNode } from 'graphql';
import { POLICY_DIRECTIVES_SDL, readRegistry } from '../../directives/index.js';
import type { PurposeRegistry } from '../policy/index.js';

/** The subgraphs, in composition order: the six of the SPEC and the access log. */
export const SUBGRAPH_NAMES = ['subscribers', 'devices', 'location', 'usage', 'billing', 'consent', 'audit'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

/** The repository's schema/ folder: the policy in force unless another is named. */
export const DEFAULT_SCHEMA_DIR = fileURLToPath(new URL('../../schema/', import.meta.url));

const FEDERATION_HEADER = /* GraphQL */ `
extend schema
  @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@shareable", "@composeDirective"])
  @link(url: "https://purposegate.dev/policy/v1.0", import: ["@purpose", "@subject", "@mask"])
  @composeDirective(name: "@purpose")
  @composeDirective(name: "@subject")
  @composeDirective(name: "@mask")
`;

/** The policy sources of one schema folder: the registry and each subgraph's full SDL. */
export interface PolicySources {
  schemaDir: string;
  purposesSdl: string;
  registry: PurposeRegistry;
  subgraphs: ReadonlyMap<SubgraphName, string>;
}

/**
 * Reads schema/purposes.graphql and the six subgraph files, and gives each subgraph its complete
 * SDL: the federation @link header, the directive definitions and the Purpose enum (without
 * @basis, which only the registry reads) prepended, so each rule is written once.
 */
export function loadPolicySources(schemaDir: string = DEFAULT_SCHEMA_DIR): PolicySources {
  const purposesSdl = readFileSync(join(schemaDir, 'purposes.graphql'), 'utf8');
  const registry = readRegistry(purposesSdl);
  const purposeEnum = parse(purposesSdl).definitions.find(
    (d): d is EnumTypeDefinitionNode => d.kind === Kind.ENUM_TYPE_DEFINITION && d.name.value === 'Purpose',
  )!;
  const plainEnum = print({ ...purposeEnum, values: purposeEnum.values?.map((v) => ({ ...v, directives: [] })) });
  const subgraphs = new Map<SubgraphName, string>();
  for (const name of SUBGRAPH_NAMES) {
    const body = readFileSync(join(schemaDir, `${name}.graphql`), 'utf8');
    const sdl = [FEDERATION_HEADER, POLICY_DIRECTIVES_SDL, plainEnum, body].join('\n');
    internNames(parse(sdl));
    subgraphs.set(name, sdl);
  }
  return { schemaDir, purposesSdl, registry, subgraphs };
}

/** Every name of every subgraph SDL read, as a property key: interned one byte per character, and held. */
const INTERNED: Record<string, true> = Object.create(null);

/**
 * Interns the document's names as this (one-byte) text has them, before Apollo's code sees them.
 * Building a subgraph schema and composing produce some names two bytes per character although
 * they are ASCII, and V8 interns a string in whichever form it meets first: every response key
 * (`fullName`), enum value (`GRANTED`) and audit leaf holding such a name was then a two-byte
 * string, and so was every response JSON.stringify wrote with one (Buffer.from then re-encodes
 * it, twice the bytes). With the one-byte form interned first, and held here, V8 returns it.
 */
function internNames(doc: DocumentNode): void {
  visit(doc, {
    Name(node) {
      INTERNED[node.value] = true;
    },
  });
}

/** SHA-256 (hex) of one subgraph's full SDL: a gateway and a remote subgraph must agree on it. */
export function subgraphPolicyHash(sources: PolicySources, name: SubgraphName): string {
  return createHash('sha256').update(sources.subgraphs.get(name) ?? '').digest('hex');
}
