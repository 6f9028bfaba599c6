import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Whether the calendar date and hour are real ones, in years 0001-9999 (PostgreSQL has no year
 * 0000; Date.parse rolls 2026-02-30 over to March and takes hour 24 as the next day).
 */
function isRealDate(m: RegExpExecArray): boolean {
  const [year, month, day, hour] = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23) return false;
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  return d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

function parseDateTime(value: unknown): string {
  const m = typeof value === 'string' ? ISO.exec(value) : null;
  const at = m === null || !isRealDate(m) ? undefined : new Date(value as string);
  // In UTC too within years 0001-9999: the stores take the normalised instant.
  if (at === undefined || Number.isNaN(at.getTime()) || at.getUTCFullYear() < 1 || at.getUTCFullYear() > 9999) {
    throw new GraphQLError(`DateTime must be an ISO 8601 date-time with a time zone, in years 0001-9999; got ${JSON.stringify(value)}.`, { extensions: { code: 'BAD_USER_INPUT' } });
  }
  return at.toISOString();
}

/** The DateTime scalar: ISO 8601 with a zone in, normalised UTC ISO string out. */
export const DateTime = new GraphQLScalarType({
  name: 'DateTime',
  serialize: (v) => (v instanceof Date ? v.toISOString() : parseDateTime(v)),
  parseValue: parseDateTime,
  parseLiteral: (ast) => parseDateTime(ast.kind === Kind.STRING ? ast.value : undefined),
});

