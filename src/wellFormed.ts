/** A NUL, or a UTF-16 surrogate without its pair: text no store, log or canonical JSON can hold. */
const ILL_FORMED = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Whether `text` is well-formed Unicode without NUL characters. */
export function isWellFormedText(text: string): boolean {
  return !ILL_FORMED.test(text);
}

/** Whether every string (and object key) in a parsed JSON value is well-formed; walked without recursion. */
export function isWellFormedJson(value: unknown): boolean {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!isWellFormedText(v)) return false;
    } else if (Array.isArray(v)) {
      for (const item of v) stack.push(item);
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, item] of Object.entries(v)) {
        if (!isWellFormedText(k)) return false;
        stack.push(item);
      }
    }
  }
  return true;
}
