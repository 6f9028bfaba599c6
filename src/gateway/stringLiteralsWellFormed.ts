import { BREAK, visit, type DocumentNode } from 'graphql';
import { isWellFormedText } from '../wellFormed.js';

/** Whether every string literal of a document is free of NUL (graphql-js already refuses unpaired surrogates). */
export function stringLiteralsWellFormed(doc: DocumentNode): boolean {
  let ok = true;
  visit(doc, {
    StringValue(node) {
      if (!isWellFormedText(node.value)) {
        ok = false;
        return BREAK;
      }
      return undefined;
    },
  });
  return ok;
}
