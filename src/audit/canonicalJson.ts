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

function serialise(value: unknown): string | undefined {
  if (value === null) return 'null';
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
