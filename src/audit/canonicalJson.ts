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

/** Text already in canonical form, spliced in as it is (see canonicalLeaf). */
class Canonical {
  constructor(readonly text: string) {}
}

function serialise(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (value instanceof Canonical) return value.text;
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
const DECISION_KEY_SET: ReadonlySet<string> = new Set(DECISION_KEYS);

/**
 * Canonical JSON of a leaf's decisions: the same bytes `canonicalJson` writes, without sorting
 * each decision's keys (their set is known) and checking each distinct string once. A decision
 * with any other member, or a member that is neither a string nor a finite number, is written by
 * the general serialiser instead (so every error is the same as there).
 */
function canonicalDecisions(decisions: readonly unknown[]): string {
  const quoted = new Map<string, string>();
  const quote = (s: string): string => {
    let q = quoted.get(s);
    if (q === undefined) quoted.set(s, (q = text(s)));
    return q;
  };
  let out = '[';
  for (let i = 0; i < decisions.length; i++) {
    if (i > 0) out += ',';
    const d = decisions[i];
    if (!isPlainDecision(d)) {
      out += serialise(d) ?? 'null';
      continue;
    }
    let o = '{';
    for (const key of DECISION_KEYS) {
      const v = d[key];
      if (v === undefined) continue;
      o += `${o.length === 1 ? '' : ','}"${key}":${typeof v === 'number' ? JSON.stringify(v) : quote(v as string)}`;
    }
    out += `${o}}`;
  }
  return `${out}]`;
}

function isPlainDecision(d: unknown): d is Record<string, unknown> {
  if (d === null || typeof d !== 'object' || Array.isArray(d) || Object.getPrototypeOf(d) !== Object.prototype) return false;
  for (const key in d) {
    if (!DECISION_KEY_SET.has(key)) return false;
    const v = (d as Record<string, unknown>)[key];
    if (typeof v === 'string' || v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) return false;
  }
  return true;
}

/**
 * `canonicalJson` of an audit leaf, with its decisions (a 100-row page holds about a thousand)
 * written by a serialiser that knows their shape. Same bytes (test/unit/canonicalJson.test.ts).
 */
export function canonicalLeaf(leaf: { decisions?: unknown }): string {
  if (!Array.isArray(leaf.decisions)) return canonicalJson(leaf);
  return canonicalJson({ ...leaf, decisions: new Canonical(canonicalDecisions(leaf.decisions)) });
}
