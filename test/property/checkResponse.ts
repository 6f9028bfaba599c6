import { isDeepStrictEqual } from 'node:util';
import { FIRST_LIMIT, LEAVES, mergeFields, type MergedField, type Operation } from './operations.js';
import type { RawSubscriber } from './rawData.js';
import {
  admit,
  cellOf,
  consentsView,
  consentWriteRefusal,
  decideConsentWrite,
  decideModel,
  HASH_SHAPE,
  inScope,
  isScoped,
  maskCoarse,
  maskLast4,
  type Admission,
  type DenyReason,
  type ModelCaller,
  type ModelSubject,
  type Purpose,
  type TimeWindow,
} from './referenceModel.js';

/** Everything the oracle knows about one case, none of it read back from the product. */
export interface CaseContext {
  /** The verified caller, or null when the request carries no valid token. */
  caller: ModelCaller | null;
  /** The X-Purpose header, or null when absent. */
  declared: string | null;
  ref?: string;
  /** The decision time the model uses (taken just before the request is sent). */
  now: Date;
  /** When the request was sent and its response received (epoch ms): server-stamped times fall inside. */
  inFlight: [number, number];
  raw: ReadonlyMap<string, RawSubscriber>;
  subjects: ReadonlyMap<string, ModelSubject>;
  /** HASH outputs seen so far, across cases: `subject|coordinate|raw` → hash, and back. */
  hashes: Map<string, string>;
  hashOwners: Map<string, string>;
  /** Tally of what was checked (`ALLOW`, `MASK:LAST4`, `DENY:MINOR`, `REJECT:…`), for the run's summary. */
  stats: Map<string, number>;
}

/** The parts of an HTTP GraphQL response the oracle reads. */
export interface ResponseLike {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: ReadonlyArray<{ message: string; path?: ReadonlyArray<string | number>; extensions?: Record<string, unknown> }>;
    extensions?: Record<string, unknown>;
  };
}

type Path = Array<string | number>;
const show = (path: Path) => path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('').slice(1) || '(root)';
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isWindow = (v: unknown): v is TimeWindow => isObject(v) && Array.isArray(v.between);
const NAMED_PAGE_TYPES: Record<string, string> = { subscribers: 'SubscriberConnection', callDetailRecords: 'CallDetailRecordConnection' };

/** One walk over a response: what it found wrong, and the errors and masked paths the model expects. */
class Walk {
  readonly issues: string[] = [];
  readonly errors = new Map<string, { reason: DenyReason; coordinate: string }>();
  /** Expected BAD_USER_INPUT errors, by path: their message. */
  readonly inputErrors = new Map<string, string>();
  readonly masked = new Set<string>();
  readonly hashes: Array<[string, string]> = [];
  readonly counts = new Map<string, number>();

  constructor(
    readonly ctx: CaseContext,
    readonly purpose: Purpose,
    readonly caller: ModelCaller,
  ) {}

  fork(): Walk {
    return new Walk(this.ctx, this.purpose, this.caller);
  }

  absorb(w: Walk): void {
    this.issues.push(...w.issues);
    for (const [k, v] of w.errors) this.errors.set(k, v);
    for (const [k, v] of w.inputErrors) this.inputErrors.set(k, v);
    for (const m of w.masked) this.masked.add(m);
    this.hashes.push(...w.hashes);
    for (const [k, n] of w.counts) this.count(k, n);
  }

  count(what: string, n = 1): void {
    this.counts.set(what, (this.counts.get(what) ?? 0) + n);
  }

  fail(path: Path, message: string): void {
    this.issues.push(`${show(path)}: ${message}`);
  }

  subject(id: string): ModelSubject {
    const s = this.ctx.subjects.get(id);
    if (!s) throw new Error(`The model has no subject "${id}".`);
    return s;
  }

  /** A denied field: null, and a FORBIDDEN error with the model's reason at its path. */
  denied(path: Path, actual: unknown, reason: DenyReason, coordinate: string): void {
    if (actual !== null) this.fail(path, `released ${JSON.stringify(actual)} but the model denies it (${reason})`);
    this.count(`DENY:${reason}`);
    this.errors.set(JSON.stringify(path), { reason, coordinate });
  }

  /** The object's keys are exactly the response keys selected. */
  keys(path: Path, actual: unknown, fields: readonly MergedField[]): actual is Record<string, unknown> {
    if (!isObject(actual)) {
      this.fail(path, `expected an object, got ${JSON.stringify(actual)}`);
      return false;
    }
    const want = fields.map((f) => f.key).sort();
    const got = Object.keys(actual).sort();
    if (!isDeepStrictEqual(want, got)) this.fail(path, `keys ${JSON.stringify(got)}, selected ${JSON.stringify(want)}`);
    return true;
  }

  exact(path: Path, actual: unknown, expected: unknown): void {
    if (!isDeepStrictEqual(actual, expected)) this.fail(path, `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }

  leaf(coordinate: string, subjectId: string, raw: unknown, actual: unknown, path: Path): void {
    const d = decideModel(coordinate, this.purpose, this.caller, this.subject(subjectId), this.ctx.now);
    switch (d.effect) {
      case 'DENY':
        return this.denied(path, actual, d.reason, coordinate);
      case 'ALLOW':
        this.count('ALLOW');
        if (isWindow(raw)) {
          const t = typeof actual === 'string' ? Date.parse(actual) : NaN;
          if (!(t >= raw.between[0] && t <= raw.between[1])) this.fail(path, `expected a time in [${new Date(raw.between[0]).toISOString()}, ${new Date(raw.between[1]).toISOString()}], got ${JSON.stringify(actual)}`);
          return;
        }
        return this.exact(path, actual, raw);
      case 'MASK': {
        this.count(`MASK:${d.strategy}`);
        if (raw === null || raw === undefined) return this.exact(path, actual, null);
        this.masked.add(JSON.stringify(path));
        switch (d.strategy) {
          case 'LAST4':
            return this.exact(path, actual, maskLast4(String(raw)));
          case 'COARSE_LOCATION':
            if (typeof actual !== 'number' || Math.abs(actual - maskCoarse(Number(raw))) > 1e-9) {
              this.fail(path, `expected COARSE_LOCATION ${maskCoarse(Number(raw))} of ${String(raw)}, got ${JSON.stringify(actual)}`);
            }
            return;
          case 'HASH':
            if (typeof actual !== 'string' || !HASH_SHAPE.test(actual) || actual.includes(String(raw))) {
              this.fail(path, `expected a HASH of ${coordinate}, got ${JSON.stringify(actual)} (raw ${String(raw)})`);
            } else this.hashes.push([`${subjectId}|${coordinate}|${String(raw)}`, actual]);
            return;
        }
      }
    }
  }

  /** A container field: decided like a leaf (never masked); when released, null only where the store has nothing. */
  container(coordinate: string, subjectId: string, raw: unknown, actual: unknown, path: Path, inner: () => void): void {
    const d = decideModel(coordinate, this.purpose, this.caller, this.subject(subjectId), this.ctx.now);
    if (d.effect === 'DENY') return this.denied(path, actual, d.reason, coordinate);
    if (d.effect === 'MASK') throw new Error(`The model masks container "${coordinate}".`);
    if (raw === null || raw === undefined) return this.exact(path, actual, null);
    inner();
  }

  /** A list whose order the SPEC does not fix: every item must match a distinct expected item. */
  unordered<T>(items: readonly T[], actual: unknown, path: Path, check: (w: Walk, item: T, value: unknown, at: Path) => void): void {
    if (!Array.isArray(actual)) return this.fail(path, `expected a list of ${items.length}, got ${JSON.stringify(actual)}`);
    if (actual.length !== items.length) this.fail(path, `expected ${items.length} items, got ${actual.length}`);
    const used = new Set<number>();
    actual.forEach((value, j) => {
      for (let i = 0; i < items.length; i++) {
        if (used.has(i)) continue;
        const scratch = this.fork();
        check(scratch, items[i], value, [...path, j]);
        if (scratch.issues.length === 0) {
          used.add(i);
          this.absorb(scratch);
          return;
        }
      }
      const i = [...items.keys()].find((k) => !used.has(k));
      if (i === undefined) this.fail([...path, j], `unexpected item ${JSON.stringify(value)}`);
      else {
        used.add(i);
        check(this, items[i], value, [...path, j]);
      }
    });
  }

  ordered<T>(items: readonly T[], actual: unknown, path: Path, check: (item: T, value: unknown, at: Path) => void): void {
    if (!Array.isArray(actual)) return this.fail(path, `expected a list of ${items.length}, got ${JSON.stringify(actual)}`);
    if (actual.length !== items.length) return this.fail(path, `expected ${items.length} items, got ${actual.length}: ${JSON.stringify(actual)}`);
    items.forEach((item, i) => check(item, actual[i], [...path, i]));
  }

  pageInfo(fields: readonly FieldLike[], actual: unknown, path: Path, endCursor: boolean, hasNextPage: boolean): void {
    const merged = mergeFields(fields);
    if (!this.keys(path, actual, merged)) return;
    for (const f of merged) {
      const v = actual[f.key];
      const at = [...path, f.key];
      if (f.name === '__typename') this.exact(at, v, 'PageInfo');
      else if (f.name === 'hasNextPage') this.exact(at, v, hasNextPage);
      else if (endCursor ? typeof v !== 'string' || v === '' : v !== null) this.fail(at, `endCursor ${JSON.stringify(v)}, expected ${endCursor ? 'a cursor' : 'null'}`);
    }
  }

  /** One simple object of a subject's data: leaves of `type`, and `__typename`. */
  plain(type: keyof typeof LEAVES, fields: readonly FieldLike[], subjectId: string, raw: Record<string, unknown>, actual: unknown, path: Path): void {
    const merged = mergeFields(fields);
    if (!this.keys(path, actual, merged)) return;
    for (const f of merged) {
      const at = [...path, f.key];
      if (f.name === '__typename') this.exact(at, actual[f.key], type);
      else this.leaf(`${type}.${f.name}`, subjectId, raw[f.name], actual[f.key], at);
    }
  }

  subscriber(fields: readonly FieldLike[], raw: RawSubscriber, actual: unknown, path: Path): void {
    const merged = mergeFields(fields);
    if (!this.keys(path, actual, merged)) return;
    if (!inScope(this.caller, this.purpose, this.subject(raw.id))) this.fail(path, `out-of-scope subscriber "${raw.id}" returned`);
    for (const f of merged) {
      const v = actual[f.key];
      const at = [...path, f.key];
      switch (f.name) {
        case '__typename':
          this.exact(at, v, 'Subscriber');
          break;
        case 'devices':
          this.container('Subscriber.devices', raw.id, raw.devices, v, at, () =>
            this.unordered(raw.devices, v, at, (w, d, value, p) => w.plain('Device', f.children, raw.id, d, value, p)),
          );
          break;
        case 'lastKnownLocation':
          this.container('Subscriber.lastKnownLocation', raw.id, raw.location, v, at, () => this.plain('Location', f.children, raw.id, raw.location!, v, at));
          break;
        case 'callDetailRecords':
          this.container('Subscriber.callDetailRecords', raw.id, raw.cdrs, v, at, () => {
            const since = f.args.get('since') as string | undefined;
            const until = f.args.get('until') as string | undefined;
            if (since !== undefined || until !== undefined) {
              // Filtering by start time reads the start times: a purpose that may not read
              // CallDetailRecord.startedAt must not learn them through the filter either (SPEC §2:
              // nothing may "get around a rule"). We expect the list refused, with startedAt's reason.
              const d = decideModel('CallDetailRecord.startedAt', this.purpose, this.caller, this.subject(raw.id), this.ctx.now);
              this.count(`FILTER:${d.effect === 'DENY' ? `DENY:${d.reason}` : 'ALLOW'}`);
              if (d.effect === 'DENY') return this.denied(at, v, d.reason, 'CallDetailRecord.startedAt');
            }
            // since inclusive, until exclusive, like accessLog's filter (README / API schema).
            const inRange = raw.cdrs.filter((c) => (since === undefined || Date.parse(c.startedAt) >= Date.parse(since)) && (until === undefined || Date.parse(c.startedAt) < Date.parse(until)));
            const first = (f.args.get('first') as number | undefined) ?? 50;
            const page = inRange.slice(0, first);
            const inner = mergeFields(f.children);
            if (!this.keys(at, v, inner)) return;
            for (const g of inner) {
              const gv = v[g.key];
              const gat = [...at, g.key];
              if (g.name === '__typename') this.exact(gat, gv, NAMED_PAGE_TYPES.callDetailRecords);
              else if (g.name === 'pageInfo') this.pageInfo(g.children, gv, gat, page.length > 0, inRange.length > first);
              else this.ordered(page, gv, gat, (cdr, value, p) => this.plain('CallDetailRecord', g.children, raw.id, cdr, value, p));
            }
          });
          break;
        case 'billingAccount':
          this.container('Subscriber.billingAccount', raw.id, raw.billing, v, at, () => {
            const b = raw.billing!;
            const inner = mergeFields(f.children);
            if (!this.keys(at, v, inner)) return;
            for (const g of inner) {
              const gv = v[g.key];
              const gat = [...at, g.key];
              if (g.name === '__typename') this.exact(gat, gv, 'BillingAccount');
              else if (g.name === 'paymentCard') {
                this.container('BillingAccount.paymentCard', raw.id, b.card, gv, gat, () => this.plain('PaymentCard', g.children, raw.id, b.card!, gv, gat));
              } else if (g.name === 'invoices') {
                this.container('BillingAccount.invoices', raw.id, b.invoices, gv, gat, () =>
                  this.unordered(b.invoices, gv, gat, (w, inv, value, p) => w.plain('Invoice', g.children, raw.id, inv, value, p)),
                );
              } else this.leaf(`BillingAccount.${g.name}`, raw.id, (b as Record<string, unknown>)[g.name], gv, gat);
            }
          });
          break;
        case 'consents': {
          const view = consentsView(this.subject(raw.id), this.ctx.now);
          this.container('Subscriber.consents', raw.id, view, v, at, () =>
            this.unordered(view, v, at, (w, c, value, p) => w.plain('Consent', f.children, raw.id, c, value, p)),
          );
          break;
        }
        default:
          this.leaf(`Subscriber.${f.name}`, raw.id, (raw as unknown as Record<string, unknown>)[f.name], v, at);
      }
    }
  }

  /** subscriber(id), node(id), subscriberByMsisdn: decided on `coordinate` for the subscriber found. */
  lookup(f: MergedField, raw: RawSubscriber | undefined, coordinate: string, actual: unknown, path: Path): void {
    if (!raw) {
      // An unknown subscriber. Neither SPEC nor README says what a lookup answers; we expect what
      // a telecom privacy engineer would: a scoped caller (partner, agent, subscriber,
      // SUBJECT_ACCESS) gets the same answer as for someone else's record, OUT_OF_SCOPE, so it
      // cannot enumerate ids or numbers; anyone else gets null without an error.
      if (isScoped(this.caller, this.purpose)) return this.denied(path, actual, 'OUT_OF_SCOPE', coordinate);
      return this.exact(path, actual, null);
    }
    const d = decideModel(coordinate, this.purpose, this.caller, this.subject(raw.id), this.ctx.now);
    if (d.effect === 'DENY') return this.denied(path, actual, d.reason, coordinate);
    this.subscriber(f.children, raw, actual, path);
  }

  subscribers(f: MergedField, actual: unknown, path: Path): void {
    const first = (f.args.get('first') as number | undefined) ?? 20;
    const after = f.args.get('after') as { cursorAfter: string } | undefined;
    const visible = [...this.ctx.raw.values()]
      .filter((s) => inScope(this.caller, this.purpose, this.subject(s.id)))
      .map((s) => s.id)
      .sort()
      .filter((id) => after === undefined || id > after.cursorAfter);
    const page = visible.slice(0, first);
    const merged = mergeFields(f.children);
    if (!this.keys(path, actual, merged)) return;
    for (const g of merged) {
      const v = actual[g.key];
      const at = [...path, g.key];
      if (g.name === '__typename') this.exact(at, v, NAMED_PAGE_TYPES.subscribers);
      else if (g.name === 'pageInfo') this.pageInfo(g.children, v, at, page.length > 0, visible.length > first);
      else {
        this.ordered(page, v, at, (id, value, p) => this.subscriber(g.children, this.ctx.raw.get(id)!, value, p));
        // Said outright, whatever else differs: no listed subscriber is out of the caller's scope.
        const idKeys = mergeFields(g.children).filter((n) => n.name === 'id').map((n) => n.key);
        for (const node of Array.isArray(v) ? v : []) {
          for (const k of idKeys) {
            const s = isObject(node) && typeof node[k] === 'string' ? this.ctx.subjects.get(node[k] as string) : undefined;
            if (s && !inScope(this.caller, this.purpose, s)) this.fail(at, `lists out-of-scope subscriber "${s.id}"`);
          }
        }
      }
    }
  }
}

type FieldLike = Parameters<typeof mergeFields>[0][number];

/**
 * Limits come after the purpose (README: "HTTP, token, purpose, parsing and limits"): a page
 * larger than LIMIT_FIRST (default 500) anywhere in the document is QUERY_TOO_COMPLEX (SPEC §4).
 */
function limits(op: Operation, admission: Admission): Admission {
  if (!admission.ok) return admission;
  const tooLarge = (fields: readonly FieldLike[]): boolean =>
    fields.some((f) => !f.dropped && (f.args?.some(([k, v]) => k === 'first' && typeof v === 'number' && v > FIRST_LIMIT) || tooLarge(f.children ?? [])));
  return tooLarge(op.roots) ? { ok: false, status: 400, code: 'QUERY_TOO_COMPLEX' } : admission;
}

/**
 * The oracle: checks one response against the reference model. Returns what is wrong (empty when
 * the response is exactly what the model predicts): every released value equal to the stored one
 * or to the model's mask of it, every denied field null with a FORBIDDEN error and the model's
 * reason at its path, no other error, `extensions.masked` exactly the masked non-null values, no
 * out-of-scope subscriber, and `extensions.audit.recordId` on every response.
 */
export function checkResponse(op: Operation, ctx: CaseContext, res: ResponseLike): string[] {
  const issues: string[] = [];
  const audit = res.body.extensions?.audit as { recordId?: unknown } | undefined;
  if (typeof audit?.recordId !== 'string' || audit.recordId === '') issues.push(`extensions.audit.recordId missing: ${JSON.stringify(res.body.extensions)}`);
  for (const e of res.body.errors ?? []) {
    if (e.extensions?.stacktrace !== undefined || e.extensions?.exception !== undefined) issues.push(`an error carries a stack trace: ${e.message}`);
  }

  const admission = limits(op, admit(ctx.caller, ctx.declared, ctx.ref));
  const tally = (k: string) => ctx.stats.set(k, (ctx.stats.get(k) ?? 0) + 1);
  if (!admission.ok) {
    tally(`REJECT:${admission.code}`);
    if (res.status !== admission.status) issues.push(`expected HTTP ${admission.status}, got ${res.status}`);
    const code = res.body.errors?.[0]?.extensions?.code;
    if (code !== admission.code) issues.push(`expected rejection ${admission.code}, got ${String(code)}: ${JSON.stringify(res.body.errors)}`);
    if (res.body.data !== undefined && res.body.data !== null) issues.push(`a rejected request returned data: ${JSON.stringify(res.body.data)}`);
    return issues;
  }
  if (res.status !== 200 || (!isObject(res.body.data) && op.kind === 'query')) {
    issues.push(`expected HTTP 200 with data, got ${res.status}: ${JSON.stringify(res.body).slice(0, 600)}`);
    return issues;
  }

  const w = new Walk(ctx, admission.purpose, ctx.caller!);
  if (op.kind === 'mutation') {
    checkMutation(op, w, res, issues);
    return issues;
  }
  const data = res.body.data as Record<string, unknown>;
  const roots = mergeFields(op.roots);
  w.keys([], data, roots);
  for (const f of roots) {
    const v = data[f.key];
    const path = [f.key];
    switch (f.name) {
      case 'subscriber':
      case 'node':
        w.lookup(f, ctx.raw.get(f.args.get('id') as string), 'Subscriber.id', v, path);
        break;
      case 'subscriberByMsisdn': {
        // README: looking a subscriber up by number is reading the number.
        if (cellOf('Subscriber.msisdn', admission.purpose) === 'deny') w.denied(path, v, 'PURPOSE_NOT_ALLOWED', 'Subscriber.msisdn');
        else w.lookup(f, [...ctx.raw.values()].find((s) => s.msisdn === f.args.get('msisdn')), 'Subscriber.msisdn', v, path);
        break;
      }
      case 'subscribers':
        w.subscribers(f, v, path);
        break;
      case '__typename':
        w.exact(path, v, 'Query');
        break;
      default:
        w.fail(path, `the oracle does not know root field "${f.name}"`);
    }
  }
  finish(w, res, issues);
  return issues;
}

/** What every executed request is checked for once walked: issues, errors, masked paths, HASH stability. */
function finish(w: Walk, res: ResponseLike, issues: string[]): void {
  const ctx = w.ctx;
  issues.push(...w.issues);
  for (const [k, n] of w.counts) ctx.stats.set(k, (ctx.stats.get(k) ?? 0) + n);

  // Errors: exactly the model's denials, each FORBIDDEN with the model's reason at its path.
  const seen = new Set<string>();
  for (const e of res.body.errors ?? []) {
    const key = JSON.stringify(e.path ?? null);
    const want = w.errors.get(key);
    const got = `${String(e.extensions?.code)}/${String(e.extensions?.reason)}`;
    const input = w.inputErrors.get(key);
    if (input !== undefined) {
      if (e.extensions?.code !== 'BAD_USER_INPUT' || e.message !== input) issues.push(`error at ${key}: expected BAD_USER_INPUT "${input}", got ${got}: ${e.message}`);
    } else if (!want) issues.push(`unexpected error at ${key}: ${got}: ${e.message}`);
    else if (e.extensions?.code !== 'FORBIDDEN' || e.extensions?.reason !== want.reason) issues.push(`error at ${key}: expected FORBIDDEN/${want.reason}, got ${got}`);
    else if (e.extensions?.coordinate !== undefined && e.extensions.coordinate !== want.coordinate) {
      issues.push(`error at ${key}: coordinate ${String(e.extensions.coordinate)}, expected ${want.coordinate}`);
    }
    if (seen.has(key)) issues.push(`more than one error at ${key}`);
    seen.add(key);
  }
  for (const [key, want] of w.errors) if (!seen.has(key)) issues.push(`missing FORBIDDEN/${want.reason} error at ${key} (${want.coordinate})`);
  for (const [key, message] of w.inputErrors) if (!seen.has(key)) issues.push(`missing BAD_USER_INPUT error at ${key} ("${message}")`);

  // extensions.masked: exactly the non-null values the model masks.
  const masked = res.body.extensions?.masked;
  const got = new Set(Array.isArray(masked) ? masked.map((p) => JSON.stringify(p)) : []);
  for (const m of w.masked) if (!got.has(m)) issues.push(`masked value at ${m} not listed in extensions.masked`);
  for (const m of got) if (!w.masked.has(m)) issues.push(`extensions.masked lists ${m}, which the model does not mask`);

  // HASH: stable per subscriber, field and value; never shared by two of them.
  for (const [key, hash] of w.hashes) {
    const before = ctx.hashes.get(key);
    if (before !== undefined && before !== hash) issues.push(`HASH of ${key} changed: ${before} then ${hash}`);
    const owner = ctx.hashOwners.get(hash);
    if (owner !== undefined && owner !== key) issues.push(`HASH ${hash} given to both ${owner} and ${key}`);
    ctx.hashes.set(key, hash);
    ctx.hashOwners.set(hash, key);
  }
}

/**
 * A consent mutation: when the model refuses it, no data (Consent! is non-null) and one FORBIDDEN
 * error at the field; when it allows the writer but the purpose does not rest on consent, no data
 * and one BAD_USER_INPUT error; otherwise the recorded event as the Consent type shows it.
 */
function checkMutation(op: Operation, w: Walk, res: ResponseLike, issues: string[]): void {
  const [f] = mergeFields(op.roots);
  if (!f) throw new Error('A mutation case needs its one root field.');
  const subjectId = f.args.get('subscriberId') as string;
  const purpose = (f.args.get('purpose') as { enumValue: string }).enumValue;
  const d = decideConsentWrite(w.purpose, w.caller, w.ctx.subjects.get(subjectId));
  const refusal = consentWriteRefusal(purpose as Purpose);
  const data = res.body.data;
  if (d.effect === 'DENY') {
    if (data !== null) w.fail([], `expected no data (the mutation is denied: ${d.reason}), got ${JSON.stringify(data)}`);
    w.count(`MUTATION:DENY:${d.reason}`);
    w.errors.set(JSON.stringify([f.key]), { reason: d.reason, coordinate: `Mutation.${f.name}` });
  } else if (refusal !== undefined) {
    if (data !== null) w.fail([], `expected no data (${purpose} does not rest on consent), got ${JSON.stringify(data)}`);
    w.count('MUTATION:NOT_CONSENT_BASED');
    w.inputErrors.set(JSON.stringify([f.key]), refusal);
  } else if (w.keys([], data, [f])) {
    w.count('MUTATION:ALLOW');
    const recorded = { purpose, state: f.name === 'grantConsent' ? 'GRANTED' : 'WITHDRAWN', source: f.args.get('source') as string, at: { between: w.ctx.inFlight } };
    w.plain('Consent', f.children, subjectId, recorded, data[f.key], [f.key]);
  }
  finish(w, res, issues);
}
