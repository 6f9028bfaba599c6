import { readFileSync } from 'node:fs';

const read = (file: string) => readFileSync(new URL(`./${file}`, import.meta.url), 'utf8');

/** The definitions of @purpose, @subject, @mask and MaskStrategy: the single source. */
export const POLICY_DIRECTIVES_SDL: string = ['purpose.graphql', 'subject.graphql', 'mask.graphql'].map(read).join('\n');

export { readRegistry } from './readRegistry.js';
export { readPolicyMap, type PolicyMap, type TypePolicy } from './readPolicyMap.js';
export { PolicyError } from './PolicyError.js';
