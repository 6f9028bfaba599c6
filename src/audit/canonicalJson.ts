import canonicalize from 'canonicalize';

/** RFC 8785 (JCS) canonical JSON of a value: the exact bytes a leaf hashes. */
export function canonicalJson(value: unknown): string {
  const text = (canonicalize as unknown as (v: unknown) => string | undefined)(value);
  if (text === undefined) throw new Error('Value cannot be canonicalised as JSON.');
  return text;
}
