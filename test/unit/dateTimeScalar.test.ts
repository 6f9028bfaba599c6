import { describe, expect, it } from 'vitest';
import { DateTime } from '../../src/subgraphs/DateTime.js';

describe('the DateTime scalar', () => {
  it.each([
    ['2026-12-04T18:00:00Z', '2026-12-04T18:00:00.000Z'],
    ['2026-12-04T18:00+01:00', '2026-12-04T17:00:00.000Z'],
    ['2024-02-29T00:00:00.5Z', '2024-02-29T00:00:00.500Z'],
    ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('takes %s as %s', (input, normalised) => {
    expect(DateTime.parseValue(input)).toBe(normalised);
  });

  it.each([
    ['a year 0000 (PostgreSQL has none)', '0000-01-01T00:00:00Z'],
    ['year 0001 that is year 0000 in UTC', '0001-01-01T00:00:00+01:00'],
    ['a year after 9999 in UTC', '9999-12-31T23:30:00-01:00'],
    ['February 30th (Date.parse rolls it over to March)', '2026-02-30T00:00:00Z'],
    ['February 29th of a year without one', '2026-02-29T00:00:00Z'],
    ['month 13', '2026-13-01T00:00:00Z'],
    ['day 00', '2026-01-00T00:00:00Z'],
    ['hour 24 (Date.parse takes it as the next day)', '2026-01-01T24:00:00Z'],
    ['no time zone', '2026-01-01T00:00:00'],
    ['a word', 'yesterday'],
    ['a number', 1764870000000],
  ])('refuses %s with BAD_USER_INPUT', (_what, input) => {
    let thrown: unknown;
    try {
      DateTime.parseValue(input);
    } catch (err) {
      thrown = err;
    }
    expect((thrown as Error | undefined)?.message).toMatch(/DateTime must be an ISO 8601 date-time with a time zone, in years 0001-9999/);
    expect((thrown as { extensions?: { code?: string } }).extensions?.code).toBe('BAD_USER_INPUT');
  });
});
