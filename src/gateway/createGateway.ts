import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSchema, Kind, type GraphQLSchema } from 'graphql';
import { readPolicyMap, type PolicyMap } from '../../directives/index.js';
import { AuthError, type IssuerKey, type VerifiedToken } from '../auth/index.js';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import { RequestRejection } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import { admitRequest, maskFor } from '../policy/index.js';
import { DecisionLog, type RequestScope } from '../shield/index.js';
import { createSubgraphSchema, loadPolicySources, readBody, sanitizeError, sendJson, subgraphPolicyHash, SUBGRAPH_NAMES, type PolicySources, type Subgraph, type SubgraphName } from '../subgraphs/index.js';
import { checkLimits, selectOperation, usesIntrospection } from './checkLimits.js';
import { composeSupergraph, type Supergraph } from './composeSupergraph.js';
import { createMetrics, type GatewayMetrics } from './createMetrics.js';
import { InProcessDataSource, type GatewayContext } from './InProcessDataSource.js';
import { createMaskedPaths } from './maskedPaths.js';
import { parseDocument } from './parseDocument.js';
import { RateLimiter } from './RateLimiter.js';
import { requestIdOf } from './requestIdOf.js';
import { stringLiteralsWellFormed } from './stringLiteralsWellFormed.js';
import { isWellFormedJson, isWellFormedText } from '../wellFormed.js';
import { RemoteSubgraphDataSource } from './RemoteSubgraphDataSource.js';
import type { OutcomeSink, RequestOutcome } from './RequestOutcome.js';


/** What the gateway is built from. */
export interface GatewayOptions {
  db: Db;
  config: Pick<Config, 'limits' | 'consentTimeoutMs' | 'schemaDir'> & Partial<Pick<Config, 'rateLimitPerMinute' | 'rateLimitBurst'>>;
  verifyToken: (token: string) => Promise<VerifiedToken>;
  maskKey: string;
  /** Policy sources; read from `config.schemaDir` (or the bundled schema/) when absent. */
  sources?: PolicySources;
  /** Receives every request's outcome before its response leaves (the audit seam). */
  onOutcome?: OutcomeSink;
  /** Whether the audit log can take writes now; mutations are refused while it cannot. */
  auditHealthy?: () => boolean;
  /**
   * Subgraphs served by other processes, by name, and the key the gateway signs their context
   * tokens with. Every other subgraph runs in this process.
   */
  remote?: { urls: ReadonlyMap<SubgraphName, string>; key: IssuerKey; timeoutMs: number };
  /** Structured logs (one line per request); silent when absent. */
  logger?: Logger;
  /**
   * Benchmarks only (bench/): `unprotected` builds the baseline, the same subgraphs and gateway
   * with no rules, guards or masks; `wrapSubgraph` lets the naive-shield variant wrap each
   * subgraph schema. Neither is reachable from configuration.
   */
  benchmark?: { unprotected?: boolean; wrapSubgraph?: (name: string, schema: GraphQLSchema, policy: PolicyMap) => GraphQLSchema };
  /**
   * Tests only: `'apollo'` hands every field denial to Apollo Gateway to locate and wrap, as before
   * the gateway located them itself (test/integration/denialPaths.test.ts compares the two).
   */
  denialPaths?: 'gateway' | 'apollo';
}

/** A running gateway: an HTTP handler for POST /graphql, plus what operations need. */
export interface Gateway {
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
  metrics: GatewayMetrics;
  supergraph: Supergraph;
  sources: PolicySources;
  stop(): Promise<void>;
}

const AUDIT_UNAVAILABLE_MESSAGE = 'The audit log cannot be written; no data is released.';

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Assembles the gateway: the six subgraphs in-process (each enforcing its own generated rules),
 * the composed supergraph, Apollo Gateway and Apollo Server, and the request pipeline:
 * authenticate → purpose → limits → execute → outcome (audit) → respond.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { db, config } = options;
  const sources = options.sources ?? loadPolicySources(config.schemaDir);
  const metrics = createMetrics();
  const enforce = options.benchmark?.unprotected !== true;
  const log = options.logger ?? silentLogger;
  const remoteUrls = options.remote?.urls ?? new Map<SubgraphName, string>();
  const subgraphs = new Map<SubgraphName, Subgraph>(
    SUBGRAPH_NAMES.filter((name) => !remoteUrls.has(name)).map((name) => {
      const sg = createSubgraphSchema(name, { db, sources, maskKey: options.maskKey, maxFirst: config.limits.first, enforce });
      const wrap = options.benchmark?.wrapSubgraph;
      return [name, wrap ? { ...sg, schema: wrap(name, sg.schema, sg.policy) } : sg];
    }),
  );
  const supergraph = composeSupergraph(sources);
  const supergraphPolicy: PolicyMap = readPolicyMap(supergraph.supergraphSdl, sources.registry);
  const apiSchema: GraphQLSchema = buildSchema(supergraph.apiSdl);
  // Purposes under which some field is masked; for the others there is nothing to list.
  const maskingPurposes = new Set(
    [...sources.registry.keys()].filter((p) => [...supergraphPolicy.types.values()].some((t) => [...t.fields.values()].some((f) => maskFor(sources.registry, f, p)))),
  );

  // Apollo Gateway otherwise exports usage metrics to Apollo every hour and, to describe its host,
  // probes the AWS, GCP, Azure and Alibaba metadata endpoints: a privacy gateway phones no one.
  process.env.APOLLO_TELEMETRY_DISABLED = 'true';
  const gateway = new ApolloGateway({
    supergraphSdl: supergraph.supergraphSdl,
    buildService: ({ name }) => {
      const url = remoteUrls.get(name as SubgraphName);
      if (url && options.remote) {
        return new RemoteSubgraphDataSource(name, url, {
          key: options.remote.key,
          policyHash: subgraphPolicyHash(sources, name as SubgraphName),
          timeoutMs: options.remote.timeoutMs,
          logger: log,
          onConsentQueries: (subgraph, n) => metrics.consentQueries.inc({ subgraph }, n),
        });
      }
      return new InProcessDataSource(name, subgraphs.get(name as SubgraphName)!.schema, db, {
        consentTimeoutMs: config.consentTimeoutMs,
        onConsentQuery: (subgraph) => metrics.consentQueries.inc({ subgraph }),
      });
    },
  });

  const maskedPaths = createMaskedPaths(apiSchema, supergraphPolicy, sources.registry);
  const responsePlugin: ApolloServerPlugin<GatewayContext> = {
    async requestDidStart() {
      return {
        async willSendResponse({ contextValue, response, document, operation }) {
          if (response.body.kind !== 'single') return;
          const result = response.body.singleResult;
          const { scope, denialSink } = contextValue;
          // Field denials the data sources located (locateDenials) join the errors first.
          if (denialSink && denialSink.denials.length > 0) {
            result.errors = [...denialSink.denials, ...(result.errors ?? [])];
            // Apollo Gateway reports null-for-non-null findings in `valueCompletion` only when no
            // subgraph returned an error; with the denials it would have dropped them.
            if (result.extensions && 'valueCompletion' in result.extensions) {
              const { valueCompletion: _dropped, ...rest } = result.extensions;
              result.extensions = rest;
            }
          }
          const masked =
            enforce && maskingPurposes.has(scope.purpose) && document && operation && result.data
              ? maskedPaths(scope.purpose, document, operation, result.data as Record<string, unknown>)
              : [];
          result.extensions = { ...(result.extensions ?? {}), masked };
          if (scope.caller.kind !== 'internal' && result.errors) {
            // Field suggestions name schema members: only internal callers get them.
            result.errors = result.errors.map((e) => ({ ...e, message: e.message.replace(/ Did you mean .*\?$/, '') }));
          }
          // The record is committed here, before Apollo serialises the response; if it cannot be,
          // the response becomes AUDIT_UNAVAILABLE with no data.
          if (!contextValue.audit) return;
          // The subgraphs' loaders (their rows, the subjects and their consent) are not needed
          // any more: let them go before the commit wait, so that a request waiting for its
          // record holds its response and little else.
          contextValue.subgraphContexts.clear();
          contextValue.subjects = undefined;
          try {
            const audit = await contextValue.audit(scope.decisions);
            if (audit) result.extensions.audit = { requestId: scope.requestId, recordId: audit.recordId };
          } catch {
            response.body.singleResult = { errors: [{ message: AUDIT_UNAVAILABLE_MESSAGE, extensions: { code: 'AUDIT_UNAVAILABLE' } }] };
            response.http.status = 503;
          }
        },
      };
    },
  };

  const server = new ApolloServer<GatewayContext>({
    gateway,
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false, // the CLI owns SIGTERM/SIGINT: drain HTTP, flush the audit log, then stop
    hideSchemaDetailsFromClientErrors: false, // suggestions are removed for non-internal callers below
    allowBatchedHttpRequests: false,
    csrfPrevention: false, // only POST application/json reaches Apollo (see handle())
    introspection: true, // gated per caller in handle(): internal callers only
    formatError: (formatted) => sanitizeError(formatted),
    plugins: [ApolloServerPluginLandingPageDisabled(), responsePlugin],
  });
  await server.start();
  const limiter = new RateLimiter(config.rateLimitPerMinute ?? 0, config.rateLimitBurst ?? 1);

  /** A metric label for the declared purpose: registry names only, so a caller cannot mint series. */
  const purposeLabel = (purpose: string | undefined) => (purpose === undefined ? '' : sources.registry.has(purpose) ? purpose : 'unknown');

  async function finish(outcome: RequestOutcome): Promise<{ recordId: string } | undefined> {
    // One increment per series, not per decision: a 100-row page has a thousand decisions and a
    // handful of (effect, reason) pairs.
    const counts = new Map<string, Map<string, number>>();
    for (const d of outcome.decisions) {
      let byReason = counts.get(d.effect);
      if (!byReason) counts.set(d.effect, (byReason = new Map()));
      const reason = d.reason ?? '';
      byReason.set(reason, (byReason.get(reason) ?? 0) + d.count);
    }
    const purpose = purposeLabel(outcome.purpose);
    for (const [effect, byReason] of counts) for (const [reason, n] of byReason) metrics.decisions.inc({ purpose, effect, reason }, n);
    return options.onOutcome ? options.onOutcome(outcome) : undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    metrics.inFlight.inc();
    const requestId = requestIdOf(req);
    res.setHeader('x-request-id', requestId);
    const outcome: RequestOutcome = { requestId, at: new Date().toISOString(), decisions: [] };
    let executed: RequestScope | undefined;
    let audited = false;
    let recordId: string | undefined;
    const record = async () => {
      const r = await finish(outcome);
      recordId = r?.recordId;
      return r;
    };
    let status = 500;
    try {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        throw new RequestRejection('BAD_REQUEST', 'Send GraphQL requests as POST with a JSON body.');
      }
      const contentType = header(req, 'content-type') ?? '';
      if (!/^application\/(graphql-response\+)?json\b/i.test(contentType)) {
        throw new RequestRejection('BAD_REQUEST', 'The request body must be JSON (Content-Type: application/json).');
      }
      const text = await readBody(req, config.limits.requestBytes);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new RequestRejection('BAD_REQUEST', 'The request body is not valid JSON.');
      }
      if (Array.isArray(body)) throw new RequestRejection('BAD_REQUEST', 'Batched requests are not supported: send one operation per request.');
      const { query, variables, operationName } = (body ?? {}) as { query?: unknown; variables?: unknown; operationName?: unknown };
      if (typeof query !== 'string' || query.trim() === '') throw new RequestRejection('BAD_REQUEST', 'The request has no "query".');
      if (variables !== undefined && variables !== null && (typeof variables !== 'object' || Array.isArray(variables))) {
        throw new RequestRejection('BAD_REQUEST', '"variables" must be an object.');
      }
      if (operationName !== undefined && operationName !== null && typeof operationName !== 'string') {
        throw new RequestRejection('BAD_REQUEST', '"operationName" must be a string.');
      }
      if (!isWellFormedText(query) || (typeof operationName === 'string' && !isWellFormedText(operationName)) || !isWellFormedJson(variables ?? null)) {
        // Before anything of the request is kept: the record of this refusal must be writable.
        throw new RequestRejection('BAD_REQUEST', 'The request holds a NUL character or an unpaired surrogate: send well-formed Unicode text.');
      }
      outcome.documentHash = createHash('sha256').update(query).digest('hex');
      if (typeof operationName === 'string') outcome.operationName = operationName;

      // 1. Authenticate.
      const auth = header(req, 'authorization');
      const bearer = auth && /^Bearer\s+(\S+)\s*$/i.exec(auth)?.[1];
      if (!bearer) throw new RequestRejection('UNAUTHENTICATED', 'Send an access token: "Authorization: Bearer <JWT>".');
      let verified: VerifiedToken;
      try {
        verified = await options.verifyToken(bearer);
      } catch (err) {
        // A token that verified but was refused (an actor not permitted) still names who sent it.
        if (err instanceof AuthError && err.verified) outcome.caller = { ...err.verified.caller, jti: err.verified.jti, act: err.verified.act };
        throw new RequestRejection('UNAUTHENTICATED', err instanceof AuthError ? err.message : 'The token is not valid.');
      }
      const { caller } = verified;
      outcome.caller = { ...caller, jti: verified.jti, ...(verified.act !== undefined ? { act: verified.act } : {}) };

      // 1b. Rate limit per caller (recorded like any rejection).
      const wait = limiter.take(`${caller.kind}\u0000${caller.sub}`);
      if (wait > 0) {
        res.setHeader('retry-after', String(wait));
        throw new RequestRejection('RATE_LIMITED', `Too many requests from "${caller.sub}"; retry in ${wait} s.`);
      }

      // 2. Purpose.
      const purpose = header(req, 'x-purpose')?.trim();
      const ref = header(req, 'x-purpose-ref')?.trim() || undefined;
      if (purpose) outcome.purpose = purpose;
      if (ref) outcome.ref = ref;
      const admission = admitRequest(sources.registry, caller, purpose, ref);
      if (!admission.ok) throw new RequestRejection(admission.code, admission.message);

      // 3. Limits.
      const doc = parseDocument(query, config.limits.tokens);
      if (caller.kind !== 'internal' && usesIntrospection(doc)) {
        throw new RequestRejection('GRAPHQL_VALIDATION_FAILED', 'Introspection is only available to internal callers.');
      }
      if (!stringLiteralsWellFormed(doc)) {
        throw new RequestRejection('BAD_REQUEST', 'The query holds a NUL character in a string: send well-formed Unicode text.');
      }
      const operation = selectOperation(doc, typeof operationName === 'string' ? operationName : undefined);
      checkLimits(apiSchema, doc, operation, (variables ?? {}) as Record<string, unknown>, config.limits);
      if (!operation) {
        const count = doc.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length;
        throw new RequestRejection(
          'OPERATION_RESOLUTION_FAILURE',
          typeof operationName === 'string' && operationName !== ''
            ? `The document has no operation named "${operationName}".`
            : count === 0
              ? 'The document holds no operation.'
              : 'The document holds several operations: name the one to run in "operationName".',
        );
      }
      if (operation.operation === 'subscription') throw new RequestRejection('BAD_REQUEST', 'Subscriptions are not supported: send a query or a mutation.');
      if (operation.operation === 'mutation' && options.auditHealthy && !options.auditHealthy()) {
        // A mutation writes before its record exists: do not start one while the log is failing.
        throw new RequestRejection('AUDIT_UNAVAILABLE', AUDIT_UNAVAILABLE_MESSAGE);
      }

      // 4. Plan and execute; the subgraphs decide every protected field.
      const scope: RequestScope = { requestId, caller, purpose: purpose!, at: outcome.at, decisions: new DecisionLog() };
      executed = scope;
      if (ref) scope.ref = ref;
      if (verified.act !== undefined) scope.actChain = verified.act;
      const headers = new HeaderMap();
      headers.set('content-type', 'application/json');
      // 5. The audit record is committed in willSendResponse (above), before any data leaves.
      const audit = (decisions: DecisionLog) => {
        audited = true;
        outcome.decisions = decisions.list();
        return record();
      };
      const response = await server.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: 'POST',
          headers,
          search: '',
          // An empty operationName means none, as selectOperation reads it: Apollo would look for an operation named "".
          body: { query, ...(variables ? { variables } : {}), ...(typeof operationName === 'string' && operationName !== '' ? { operationName } : {}) },
        },
        context: async () => ({
          scope,
          subgraphContexts: new Map(),
          audit,
          ...(options.denialPaths === 'apollo' ? {} : { denialSink: { fetched: Object.create(null) as Record<string, unknown>, denials: [] } }),
        }),
      });
      if (response.body.kind !== 'complete') throw new Error('Unexpected streamed response.');
      if (!audited) throw new Error('The response was not audited.');
      status = response.status ?? 200;
      for (const [k, v] of response.headers) if (k !== 'content-length') res.setHeader(k, v);
      res.statusCode = status;
      // Encoded once: its length is the header, the same bytes are sent.
      const payload = Buffer.from(response.body.string, 'utf8');
      res.setHeader('content-length', payload.length);
      res.end(payload);
    } catch (err) {
      const rejection =
        err instanceof RequestRejection ? err : new RequestRejection('INTERNAL_SERVER_ERROR', 'Unexpected error.');
      status = err instanceof RequestRejection ? rejection.status : 500;
      const body: { errors: unknown[]; extensions?: Record<string, unknown> } = {
        errors: [{ message: rejection.message, extensions: { code: rejection.code } }],
      };
      if (rejection.code !== 'AUDIT_UNAVAILABLE' && !audited) {
        outcome.rejection = { code: rejection.code, status };
        // Resolvers that ran before the failure decided things: keep those decisions.
        outcome.decisions = executed ? executed.decisions.list() : [];
        try {
          const audit = await record();
          if (audit) body.extensions = { audit: { requestId, recordId: audit.recordId } };
        } catch {
          status = 503;
          body.errors = [{ message: AUDIT_UNAVAILABLE_MESSAGE, extensions: { code: 'AUDIT_UNAVAILABLE' } }];
        }
      }
      sendJson(res, status, body);
    } finally {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      log.info(
        {
          requestId,
          caller: outcome.caller ? { sub: outcome.caller.sub, kind: outcome.caller.kind, agency: outcome.caller.agency, act: outcome.caller.act !== undefined } : null,
          purpose: purposeLabel(outcome.purpose) || null,
          operationName: outcome.operationName ?? null,
          status,
          rejection: outcome.rejection?.code ?? null,
          decisions: outcome.decisions.length,
          recordId: recordId ?? null,
          ms: Math.round(seconds * 1e6) / 1e3,
        },
        'request',
      );
      metrics.inFlight.dec();
      metrics.requests.inc({ purpose: purposeLabel(outcome.purpose), status: String(status) });
      metrics.latency.observe({ purpose: purposeLabel(outcome.purpose) }, seconds);
    }
  }

  return {
    handle,
    metrics,
    supergraph,
    sources,
    async stop() {
      await server.stop();
    },
  };
}
