/** A UTF-16 surrogate without its pair: RFC 8785 has no canonical form for it. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** What JSON.stringify would escape (quote, backslash, controls), or a surrogate to check. */
const NEEDS_CARE = /["\\\u0000-\u001f\uD800-\uDFFF]/;

function text(s: string): string {
  // Almost every string of a leaf is plain: JSON.stringify would write it unchanged in quotes.
  if (!NEEDS_CARE.test(s)) return `"${s}"`;
  if (LONE_SURROGATE.test(s)) throw new Error('A string holds an unpaired surrogate: it has no canonical JSON form.');
  // RFC 8785 §3.2.2.2 serialises strings exactly as ECMAScript's JSON.stringify does.
  return JSON.stringify(s);
}

/** A member whose canonical text is written by its own function, when the walk reaches it. */
class Canonical {
  constructor(readonly write: () => string) {}
}

function serialise(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (value instanceof Canonical) return value.write();
  switch (typeof value) {
    case 'string':
      return text(value);
    case 'number':
      if (!Number.isFinite(value)) throw new Error(`${value} has no JSON form.`);
      // RFC 8785 §3.2.2.3: ECMAScript's Number-to-string, which JSON.stringify uses (-0 → 0).
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      throw new Error('A bigint has no JSON form.');
    case 'object': {
      const withToJson = value as { toJSON?: () => unknown };
      if (typeof withToJson.toJSON === 'function') return serialise(withToJson.toJSON());
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + (serialise(value[i]) ?? 'null');
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      // RFC 8785 §3.2.3: members sorted by their names' UTF-16 code units (the default sort order).
      const keys = Object.keys(record).sort();
      let out = '{';
      let first = true;
      for (const key of keys) {
        const member = serialise(record[key]);
        if (member === undefined) continue; // as JSON.stringify: undefined, functions, symbols are left out
        out += `${first ? '' : ','}${text(key)}:${member}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

/**
 * RFC 8785 (JCS) canonical JSON of a value: the exact bytes a leaf hashes. Written for the audit
 * writer's hot path (a 100-row page is a leaf of about a thousand decisions); its output is
 * checked against the `canonicalize` package on random values (test/unit/canonicalJson.test.ts).
 */
export function canonicalJson(value: unknown): string {
  const out = serialise(value);
  if (out === undefined) throw new Error('Value cannot be canonicalised as JSON.');
  return out;
}

/** A decision's members in RFC 8785 order (UTF-16 code units): the only keys the fast path writes. */
const DECISION_KEYS = ['consentEventId', 'coordinate', 'count', 'effect', 'reason', 'strategy', 'subscriberId'] as const;
type DecisionKey = (typeof DECISION_KEYS)[number];
/** Each decision key's bit in the set of members a decision has. */
const DECISION_KEY_BIT: ReadonlyMap<string, number> = new Map(DECISION_KEYS.map((key, i) => [key, 1 << i]));

/**
 * Canonical JSON of a leaf's decisions: the same bytes `canonicalJson` writes, without sorting
 * each decision's keys (their set is known). A plain object without `toJSON` whose own enumerable
 * members are among those keys takes the fast path (decisionCopy); anything else is written by
 * the general serialiser, so every output and every error is the same.
 */
function canonicalDecisions(decisions: readonly unknown[]): string {
  // The common case, every decision plain with string and finite-number members, is one
  // JSON.stringify of copies with the members in canonical order: for such values it writes what
  // RFC 8785 writes (strings checked for lone surrogates as they are read) and leaves out
  // undefined members as `serialise` does. The first other decision switches to text per decision.
  const copies: CanonicalDecision[] = [];
  for (let i = 0; i < decisions.length; i++) {
    const copy = decisionCopy(decisions[i]);
    if (typeof copy === 'string') {
      let out = '[';
      for (let j = 0; j < i; j++) out += `${copyText(copies[j])},`;
      out += copy;
      for (let j = i + 1; j < decisions.length; j++) {
        const next = decisionCopy(decisions[j]);
        out += `,${typeof next === 'string' ? next : copyText(next)}`;
      }
      return `${out}]`;
    }
    copies.push(copy);
  }
  // A getter may have given Object.prototype or Array.prototype a toJSON, which JSON.stringify
  // would call: then the copies (values already read) are written by hand.
  if ((Object.prototype as { toJSON?: unknown }).toJSON !== undefined || (Array.prototype as { toJSON?: unknown }).toJSON !== undefined) {
    return `[${copies.map(copyText).join(',')}]`;
  }
  return JSON.stringify(copies);
}

/** A copy's canonical text written member by member (its values are strings, finite numbers or undefined). */
function copyText(c: CanonicalDecision): string {
  let o = '';
  for (let k = 0; k < DECISION_KEYS.length; k++) {
    const v = c[DECISION_KEYS[k]];
    if (v !== undefined) o += `,"${DECISION_KEYS[k]}":${memberText(v)}`;
  }
  return o === '' ? '{}' : `{${o.slice(1)}}`;
}

/** A plain decision's members in RFC 8785 order: strings and finite numbers, undefined left out. */
interface CanonicalDecision {
  consentEventId: unknown;
  coordinate: unknown;
  count: unknown;
  effect: unknown;
  reason: unknown;
  strategy: unknown;
  subscriberId: unknown;
}

/** Any UTF-16 surrogate: a string holding one is checked for a lone one (text() says which). */
const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * One decision for canonicalDecisions: a copy with its members in canonical order when it is a
 * plain decision (an object of Object.prototype without `toJSON`, its own enumerable keys among
 * DECISION_KEYS) whose members are strings, finite numbers or undefined;
 * otherwise its canonical text. Each member is read once, in key order, as `serialise` reads it,
 * and only when `Object.keys` lists it (never one inherited from a polluted prototype); a string
 * with a lone surrogate or a number without a JSON form throws where `serialise` throws, and from
 * the first member of another type on, the rest is written member by member.
 */
function decisionCopy(d: unknown): CanonicalDecision | string {
  if (d === null || typeof d !== 'object' || Object.getPrototypeOf(d) !== Object.prototype) return serialise(d) ?? 'null';
  if (typeof (d as { toJSON?: unknown }).toJSON === 'function') return serialise(d) ?? 'null';
  const keys = Object.keys(d);
  let present = 0;
  for (let k = 0; k < keys.length; k++) {
    const bit = DECISION_KEY_BIT.get(keys[k]);
    if (bit === undefined) return serialise(d) ?? 'null';
    present |= bit;
  }
  // One named read per member (monomorphic for the writer's decisions), in key order.
  const r = d as Record<DecisionKey, unknown>;
  const a = present & 1 ? r.consentEventId : undefined;
  if (!regular(a)) return decisionTextFrom(r, present, [], 0, a);
  const b = present & 2 ? r.coordinate : undefined;
  if (!regular(b)) return decisionTextFrom(r, present, [a], 1, b);
  const c = present & 4 ? r.count : undefined;
  if (!regular(c)) return decisionTextFrom(r, present, [a, b], 2, c);
  const e = present & 8 ? r.effect : undefined;
  if (!regular(e)) return decisionTextFrom(r, present, [a, b, c], 3, e);
  const f = present & 16 ? r.reason : undefined;
  if (!regular(f)) return decisionTextFrom(r, present, [a, b, c, e], 4, f);
  const g = present & 32 ? r.strategy : undefined;
  if (!regular(g)) return decisionTextFrom(r, present, [a, b, c, e, f], 5, g);
  const h = present & 64 ? r.subscriberId : undefined;
  if (!regular(h)) return decisionTextFrom(r, present, [a, b, c, e, f, g], 6, h);
  return { consentEventId: a, coordinate: b, count: c, effect: e, reason: f, strategy: g, subscriberId: h };
}

/**
 * Whether JSON.stringify writes `v` as `serialise` would: a string (one with a lone surrogate
 * throws here, as `serialise` throws), a finite number (another number throws here), or
 * undefined (left out by both). False for anything else.
 */
function regular(v: unknown): boolean {
  if (typeof v === 'string') {
    if (SURROGATE.test(v)) text(v);
    return true;
  }
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) serialise(v);
    return true;
  }
  return v === undefined;
}

/** The canonical text of a decision whose members before `from` were read into `values` and whose member `from` is `v`. */
function decisionTextFrom(r: Record<DecisionKey, unknown>, present: number, values: readonly unknown[], from: number, v: unknown): string {
  let o = '';
  for (let k = 0; k < DECISION_KEYS.length; k++) {
    if ((present & (1 << k)) === 0) continue;
    const m = memberText(k < from ? values[k] : k === from ? v : r[DECISION_KEYS[k]]);
    if (m !== '') o += `,"${DECISION_KEYS[k]}":${m}`;
  }
  return o === '' ? '{}' : `{${o.slice(1)}}`;
}

/** A member's canonical text, '' when it is left out; anything but a string or a finite number by the general serialiser (same text, same error). */
function memberText(v: unknown): string {
  if (typeof v === 'string') return text(v);
  if (typeof v === 'number' && Number.isFinite(v)) return JSON.stringify(v);
  return serialise(v) ?? '';
}

/**
 * `canonicalJson` of an audit leaf, with its decisions (a 100-row page holds about a thousand)
 * written by a serialiser that knows their shape. Same bytes and same errors as `canonicalJson`
 * (test/unit/canonicalJson.test.ts); a leaf that is not a plain object with an own array of
 * decisions and no `toJSON` is written by `canonicalJson` itself.
 */
export function canonicalLeaf(leaf: object): string {
  return compact(leafText(leaf));
}

/**
 * The UTF-8 bytes of `canonicalLeaf(leaf)` (what the writer hashes and stores), with as few
 * copies as the text allows: an ASCII leaf (names and ids, the common case) is written straight
 * from its text, whichever way V8 holds it, as its Latin-1 bytes, which are its UTF-8 bytes. For
 * a 160 KB leaf that saves two copies of its size (a Buffer and a string) per record.
 */
export function canonicalLeafBytes(leaf: object): Buffer {
  const s = leafText(leaf);
  // ASCII exactly when its UTF-8 length is its length (Buffer.byteLength counts without a copy,
  // many times faster than a regular expression's scan of a long leaf).
  return Buffer.byteLength(s, 'utf8') === s.length ? Buffer.from(s, 'latin1') : Buffer.from(compact(s), 'utf8');
}

/** canonicalLeaf's text, however V8 holds it (see compact). */
function leafText(leaf: object): string {
  const decisions = (leaf as { decisions?: unknown }).decisions;
  const plain =
    Object.getPrototypeOf(leaf) === Object.prototype &&
    Object.prototype.propertyIsEnumerable.call(leaf, 'decisions') &&
    typeof (leaf as { toJSON?: unknown }).toJSON !== 'function' &&
    Array.isArray(decisions) &&
    typeof (decisions as { toJSON?: unknown }).toJSON !== 'function';
  if (!plain) return canonicalJson(leaf);
  // The decisions are written where the walk reaches them (so errors come in the same order) and
  // spliced in after: a raw U+0001 cannot occur in canonical JSON (controls are escaped).
  let written = '';
  const around = canonicalJson({
    ...leaf,
    decisions: new Canonical(() => {
      written = canonicalDecisions(decisions);
      return SPLICE;
    }),
  });
  const at = around.indexOf(SPLICE);
  return around.slice(0, at) + written + around.slice(at + 1);
}

const SPLICE = '\u0001';
const NOT_LATIN1 = /[^\u0000-\u00ff]/;

/**
 * `s`, held by V8 one byte per character when every character fits (Latin-1). A string is held
 * two bytes per character when any part it was built from was, and some names reach the leaf
 * that way (a leaf's `effect` did, for reasons inside V8's string table); UTF-8 encoding a leaf
 * of ~100 KB held that way costs several times more. Same characters.
 */
function compact(s: string): string {
  return NOT_LATIN1.test(s) ? s : Buffer.from(s, 'latin1').toString('latin1');
}
