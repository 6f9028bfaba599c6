import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dbAuditStore, replay } from '../../src/audit/index.js';
import { auditRecordOf, expectAuditedRejection, startTestGateway, type GqlResponse, type TestGateway } from '../harness.js';

/** POST /audit/<op> (or another method), as the audit CLI sends it; the answer shaped like a GraphQL response for the harness. */
async function callAudit(
  gw: TestGateway,
  op: string,
  o: { method?: string; token?: string; purpose?: string; body?: string; requestId?: string } = {},
): Promise<GqlResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.purpose) headers['x-purpose'] = o.purpose;
  if (o.requestId !== undefined) headers['x-request-id'] = o.requestId;
  const method = o.method ?? 'POST';
  const res = await fetch(gw.url.replace(/\/graphql$/, `/audit/${op}`), { method, headers, body: method === 'GET' ? undefined : (o.body ?? '{}') });
  const body = (await res.json()) as Record<string, any>;
  // The endpoint answers { …, audit } at the top level; the harness reads extensions.audit.
  return { status: res.status, headers: res.headers, body: { ...body, extensions: body.audit ? { audit: body.audit } : undefined } };
}

describe('POST /audit/<op>', () => {
  let gw: TestGateway;
  let auditor: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    auditor = await gw.mint({ sub: 'dpo', kind: 'auditor', purposes: ['AUDIT'] });
  });
  afterAll(async () => {
    await gw.close();
  });

  it.each([
    { what: 'an unknown operation', op: 'delete', method: 'POST', auth: true, body: '{}', status: 404, code: 'NOT_FOUND', caller: null },
    { what: 'an unknown operation without a token', op: 'truncate', method: 'POST', auth: false, body: '{}', status: 404, code: 'NOT_FOUND', caller: null },
    { what: 'a GET of a known operation', op: 'verify', method: 'GET', auth: true, body: '', status: 404, code: 'NOT_FOUND', caller: null },
    { what: 'a body that is not JSON', op: 'verify', method: 'POST', auth: true, body: '{not json', status: 400, code: 'BAD_REQUEST', caller: 'dpo' },
    { what: 'no token', op: 'verify', method: 'POST', auth: false, body: '{}', status: 401, code: 'UNAUTHENTICATED', caller: null },
  ])('$what → $status $code, recorded in the audit log', async ({ op, method, auth, body, status, code, caller }) => {
    const res = await callAudit(gw, op, { method, token: auth ? auditor : undefined, purpose: 'AUDIT', body });
    const leaf = await expectAuditedRejection(gw.db, res, status, code);
    expect(leaf.operationName).toBe(`audit ${op}`);
    expect(leaf.purpose).toBe('AUDIT');
    expect(leaf.caller?.sub ?? null).toBe(caller);
    expect(leaf.requestId).toBe(res.headers.get('x-request-id'));
  });

  it('verify takes a worker count from 0 to 8 and refuses any other with 400', async () => {
    for (const workers of [0, 8]) {
      const res = await callAudit(gw, 'verify', { token: auditor, purpose: 'AUDIT', body: JSON.stringify({ workers }) });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect((res.body as { result?: unknown }).result).toMatchObject({ ok: true });
    }
    for (const workers of [99, -1, 1.5, 'two']) {
      const res = await callAudit(gw, 'verify', { token: auditor, purpose: 'AUDIT', body: JSON.stringify({ workers }) });
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([{ message: `Pass --workers as a whole number from 0 to 8, not ${JSON.stringify(workers)}.`, extensions: { code: 'BAD_REQUEST' } }]);
    }
  });

  it.each([
    { body: {}, message: 'Pass --record ID, or --consistency SIZE --log ID.' },
    { body: { record: 'nope' }, message: '"nope" is not a record id (log-id-index).' },
  ])('prove with $body → 400 BAD_REQUEST saying what to pass', async ({ body, message }) => {
    const res = await callAudit(gw, 'prove', { token: auditor, purpose: 'AUDIT', body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ message, extensions: { code: 'BAD_REQUEST' } }]);
  });

  it.each([
    { op: 'replay', body: { since: 'garbage' }, message: 'Pass --since as an ISO 8601 time such as 2026-12-04T10:00:00Z, not "garbage".' },
    { op: 'replay', body: { until: 1 }, message: 'Pass --until as an ISO 8601 time such as 2026-12-04T10:00:00Z, not 1.' },
    { op: 'prove', body: { consistency: 'abc', log: 'gw-x' }, message: 'Pass --consistency as the size of a checkpoint (a whole number from 1), not "abc".' },
    { op: 'report', body: {}, message: 'Pass --subscriber as a subscriber id, not undefined.' },
    { op: 'verify', body: { witnesses: 'x' }, message: 'Pass "witnesses" as an array of checkpoint notes, not "x".' },
    { op: 'verify', body: { keys: ['root:x:0:0'] }, message: '"keys" item 0 is not a note verifier key: Not an Ed25519 note verifier key.' },
  ])('$op with $body → 400 BAD_REQUEST saying what to pass, naming the record of the call', async ({ op, body, message }) => {
    const res = await callAudit(gw, op, { token: auditor, purpose: 'AUDIT', body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ message, extensions: { code: 'BAD_REQUEST' } }]);
    expect((await auditRecordOf(gw.db, res)).operationName).toBe(`audit ${op}`);
  });

  it('records an unknown operation named by a long path without storing all of it', async () => {
    const res = await callAudit(gw, 'x'.repeat(5000), { token: auditor, purpose: 'AUDIT' });
    const leaf = await expectAuditedRejection(gw.db, res, 404, 'NOT_FOUND');
    expect(leaf.operationName).toBe(`audit ${'x'.repeat(64)}…`);
  });

  it.each([
    { what: 'a purpose the token permits but audit operations do not take', purpose: 'BILLING', status: 403, code: 'FORBIDDEN' },
    { what: 'a purpose the token does not permit', purpose: 'MARKETING', status: 403, code: 'PURPOSE_NOT_PERMITTED' },
    { what: 'a purpose of spaces', purpose: '  ', status: 400, code: 'PURPOSE_REQUIRED' },
    { what: 'a purpose not in the registry', purpose: 'NOPE', status: 400, code: 'UNKNOWN_PURPOSE' },
    { what: 'a purpose that needs a reference, without one', purpose: 'LAW_ENFORCEMENT', status: 403, code: 'PURPOSE_REF_REQUIRED' },
  ])('$what → $status $code, recorded, and `audit replay` finds the same refusal', async ({ purpose, status, code }) => {
    const internal = await gw.mint({ sub: 'svc', kind: 'internal', purposes: ['BILLING', 'LAW_ENFORCEMENT'] });
    const res = await callAudit(gw, 'verify', { token: internal, purpose, body: '{}' });
    const leaf = await expectAuditedRejection(gw.db, res, status, code);
    expect(leaf.operationName).toBe('audit verify');
    const report = await replay({ store: dbAuditStore(gw.db), db: gw.db });
    expect(report.mismatches).toEqual([]);
  });

  it.each([
    { what: 'a valid X-Request-Id is echoed', sent: 'case-42:retry.1_a', echoed: 'case-42:retry.1_a' },
    { what: 'an X-Request-Id with a space is replaced', sent: 'bad id', echoed: null },
    { what: 'an X-Request-Id of 129 characters is replaced', sent: 'a'.repeat(129), echoed: null },
    { what: 'an X-Request-Id of 128 characters is echoed', sent: 'a'.repeat(128), echoed: 'a'.repeat(128) },
  ])('$what, in the header, the answer and the record', async ({ sent, echoed }) => {
    for (const [op, body] of [['verify', '{}'], ['nope', '{}'], ['verify', '{']] as const) {
      const res = await callAudit(gw, op, { token: auditor, purpose: 'AUDIT', body, requestId: sent });
      const id = res.headers.get('x-request-id');
      if (echoed === null) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      else expect(id).toBe(echoed);
      expect(res.body.extensions!.audit.requestId).toBe(id);
      expect((await auditRecordOf(gw.db, res)).requestId).toBe(id);
    }
  });
});
