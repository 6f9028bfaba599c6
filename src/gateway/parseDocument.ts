import { MaxTokensParserWLexer } from '@escape.tech/graphql-armor-max-tokens';
import { GraphQLError, type DocumentNode } from 'graphql';
import { RequestRejection } from '../errors.js';

/**
 * Parses a GraphQL document with graphql-armor's token-counting parser: more than `maxTokens`
 * lexical tokens (comments are not tokens) stops the parse at once with QUERY_TOO_COMPLEX; a
 * syntax error is GRAPHQL_PARSE_FAILED.
 */
export function parseDocument(query: string, maxTokens: number): DocumentNode {
  let overLimit = false;
  const parser = new MaxTokensParserWLexer(query, {
    n: maxTokens,
    exposeLimits: false,
    errorMessage: 'Token limit exceeded.',
    propagateOnRejection: true, // abort the parse at the first token over the limit
    onAccept: [],
    onReject: [() => (overLimit = true)],
    noLocation: false,
  });
  try {
    return parser.parseDocument();
  } catch (err) {
    if (overLimit) throw new RequestRejection('QUERY_TOO_COMPLEX', `The query exceeds the token limit of ${maxTokens}.`);
    throw new RequestRejection('GRAPHQL_PARSE_FAILED', err instanceof GraphQLError ? err.message : 'The query could not be parsed.');
  }
}
