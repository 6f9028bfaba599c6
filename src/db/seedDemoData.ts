import type { Db } from './Db.js';

/**
 * Deterministic, realistic demo data for the purposegate stores: subscribers, their devices,
 * last known location, call detail records, billing account, invoices and consent history.
 *
 * Every subscriber's rows are drawn from a PRNG seeded by (`seed`, subscriber number), so the
 * data depends only on the seed, the subscriber number and `now` — seeding 100 twice gives the
 * same rows as seeding 200 once (only the bigserial ids of consent events may be ordered differently). All phone numbers are in fictional or non-geographic ranges
 * (+44 70 personal numbers, Ofcom drama landlines, NANP 555-01xx) and e-mails use the reserved
 * example.* domains, so no row can point at a real person.
 */

export interface SeedOptions {
  /** How many subscribers to add. */
  subscribers: number;
  /** PRNG seed; default 42. */
  seed?: number;
  /** The data's "today"; default `new Date()`. */
  now?: Date;
  /** Seed nothing when the store already has subscribers (decided under the seeding lock). */
  ifEmpty?: boolean;
}

export interface SeedSummary {
  subscribers: number;
  devices: number;
  cdrs: number;
  invoices: number;
  consentEvents: number;
  /** The agencies the new subscribers were spread over, sorted. */
  agencies: string[];
}

export const DEMO_AGENCIES = ['agency-north', 'agency-south', 'agency-east'] as const;

/** The operator all demo subscribers belong to: MCC 234 (UK), MNC 15. */
const MCC = '234';
const MNC = '15';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Each INSERT stays below this many bind parameters. */
const MAX_PARAMS = 9_000;
/** Subscribers generated (and held in memory) per round of INSERTs. */
const SUBSCRIBERS_PER_ROUND = 500;

// ---------------------------------------------------------------------------------------------
// Check digits

/** The Luhn check digit that makes `digits` + check digit pass the Luhn test. */
export function luhnCheckDigit(digits: string): number {
  if (!/^\d*$/.test(digits)) throw new Error(`luhnCheckDigit: not a digit string: ${digits}`);
  let sum = 0;
  // Walking from the right, the digit next to the (future) check digit is doubled first.
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when `imei` is 15 digits whose last digit is the Luhn check digit of the first 14. */
export function isValidImei(imei: string): boolean {
  return /^\d{15}$/.test(imei) && luhnCheckDigit(imei.slice(0, 14)) === imei.charCodeAt(14) - 48;
}

// ---------------------------------------------------------------------------------------------
// PRNG

/** mulberry32: a small, fast 32-bit PRNG; returns floats in [0, 1). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Mixes the seed and a stream number into one well-spread 32-bit PRNG seed (murmur3 fmix). */
function mixSeed(seed: number, stream: number): number {
  let h = (Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream | 0, 0x85ebca6b) ^ 0x27d4eb2f) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of items) total += w;
    let r = this.next() * total;
    for (const [item, w] of items) {
      r -= w;
      if (r < 0) return item;
    }
    return items[items.length - 1]![0];
  }
  digits(count: number): string {
    let s = '';
    for (let i = 0; i < count; i++) s += String.fromCharCode(48 + Math.floor(this.next() * 10));
    return s;
  }
  /** Standard normal deviate (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  /** A whole-second instant uniformly in [fromMs, toMs]. */
  between(fromMs: number, toMs: number): number {
    return Math.floor((fromMs + this.next() * Math.max(0, toMs - fromMs)) / 1000) * 1000;
  }
}

// ---------------------------------------------------------------------------------------------
// Reference lists

const FIRST_NAMES = [
  'Oliver', 'Amelia', 'George', 'Olivia', 'Harry', 'Isla', 'Noah', 'Ava', 'Jack', 'Mia',
  'Leo', 'Ivy', 'Arthur', 'Freya', 'Muhammad', 'Lily', 'Oscar', 'Florence', 'Charlie', 'Grace',
  'Thomas', 'Sophie', 'James', 'Emily', 'William', 'Chloe', 'Aarav', 'Priya', 'Kwame', 'Niamh',
  'Callum', 'Eilidh', 'Rhys', 'Seren', 'Tomasz', 'Zofia', 'Daniel', 'Hannah', 'Samuel', 'Aisha',
] as const;

const LAST_NAMES = [
  'Smith', 'Jones', 'Taylor', 'Brown', 'Williams', 'Wilson', 'Johnson', 'Davies', 'Patel', 'Robinson',
  'Wright', 'Thompson', 'Evans', 'Walker', 'White', 'Roberts', 'Green', 'Hall', 'Thomas', 'Clarke',
  'Jackson', 'Wood', 'Harris', 'Edwards', 'Turner', 'Martin', 'Cooper', 'Hill', 'Ward', 'Hughes',
  'Khan', 'Ali', 'Campbell', 'MacDonald', 'Murphy', "O'Brien", 'Kowalski', 'Okafor', 'Nguyen', 'Begum',
] as const;

const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example.co.uk'] as const;

const STREETS = [
  'High Street', 'Station Road', 'Church Lane', 'Victoria Road', 'Main Street', 'Park Avenue',
  'Queens Road', 'Mill Lane', 'Kings Road', 'The Crescent', 'Manor Road', 'Albert Street',
  'Green Lane', 'York Road', 'Springfield Road', 'Orchard Close', 'Meadow Way', 'Castle Street',
] as const;

/** Towns with their centre, postcode areas and a population weight (roughly). */
interface Town {
  name: string;
  lat: number;
  lon: number;
  postcodeAreas: readonly string[];
  weight: number;
}

const TOWNS: readonly Town[] = [
  { name: 'London', lat: 51.50735, lon: -0.12776, postcodeAreas: ['SW', 'SE', 'N', 'E', 'NW', 'W'], weight: 30 },
  { name: 'Birmingham', lat: 52.48624, lon: -1.89040, postcodeAreas: ['B'], weight: 8 },
  { name: 'Manchester', lat: 53.48076, lon: -2.24263, postcodeAreas: ['M'], weight: 8 },
  { name: 'Leeds', lat: 53.80076, lon: -1.54908, postcodeAreas: ['LS'], weight: 6 },
  { name: 'Glasgow', lat: 55.86421, lon: -4.25181, postcodeAreas: ['G'], weight: 6 },
  { name: 'Liverpool', lat: 53.40837, lon: -2.99157, postcodeAreas: ['L'], weight: 5 },
  { name: 'Sheffield', lat: 53.38112, lon: -1.47009, postcodeAreas: ['S'], weight: 5 },
  { name: 'Bristol', lat: 51.45451, lon: -2.58791, postcodeAreas: ['BS'], weight: 5 },
  { name: 'Edinburgh', lat: 55.95325, lon: -3.18827, postcodeAreas: ['EH'], weight: 5 },
  { name: 'Newcastle upon Tyne', lat: 54.97825, lon: -1.61780, postcodeAreas: ['NE'], weight: 4 },
  { name: 'Cardiff', lat: 51.48158, lon: -3.17909, postcodeAreas: ['CF'], weight: 4 },
  { name: 'Nottingham', lat: 52.95478, lon: -1.15814, postcodeAreas: ['NG'], weight: 4 },
  { name: 'Leicester', lat: 52.63692, lon: -1.13975, postcodeAreas: ['LE'], weight: 3 },
  { name: 'Southampton', lat: 50.90970, lon: -1.40435, postcodeAreas: ['SO'], weight: 3 },
  { name: 'Brighton', lat: 50.82253, lon: -0.13716, postcodeAreas: ['BN'], weight: 3 },
  { name: 'Plymouth', lat: 50.37546, lon: -4.14266, postcodeAreas: ['PL'], weight: 2 },
  { name: 'Norwich', lat: 52.63086, lon: 1.29735, postcodeAreas: ['NR'], weight: 2 },
  { name: 'Cambridge', lat: 52.20534, lon: 0.12182, postcodeAreas: ['CB'], weight: 2 },
  { name: 'Oxford', lat: 51.75202, lon: -1.25773, postcodeAreas: ['OX'], weight: 2 },
  { name: 'Exeter', lat: 50.71837, lon: -3.53388, postcodeAreas: ['EX'], weight: 2 },
  { name: 'York', lat: 53.95996, lon: -1.08729, postcodeAreas: ['YO'], weight: 2 },
  { name: 'Aberdeen', lat: 57.14965, lon: -2.09433, postcodeAreas: ['AB'], weight: 2 },
  { name: 'Inverness', lat: 57.47778, lon: -4.22472, postcodeAreas: ['IV'], weight: 1 },
];
const WEIGHTED_TOWNS = TOWNS.map((t, i) => [i, t.weight] as const);

/** Letters used in the inward part of UK postcodes (no C, I, K, M, O, V). */
const POSTCODE_INWARD_LETTERS = 'ABDEFGHJLNPQRSTUWXYZ';

interface DeviceModel {
  manufacturer: string;
  model: string;
  /** Type Allocation Code: the first 8 IMEI digits. */
  tac: string;
  osVersions: readonly string[];
  tablet?: boolean;
}

const PHONES: readonly (readonly [DeviceModel, number])[] = [
  [{ manufacturer: 'Apple', model: 'iPhone 15', tac: '35407115', osVersions: ['iOS 17.6.1', 'iOS 18.0', 'iOS 18.1', 'iOS 18.2'] }, 14],
  [{ manufacturer: 'Apple', model: 'iPhone 15 Pro', tac: '35328915', osVersions: ['iOS 18.1', 'iOS 18.2', 'iOS 18.3'] }, 8],
  [{ manufacturer: 'Apple', model: 'iPhone 14', tac: '35684733', osVersions: ['iOS 17.5', 'iOS 17.6.1', 'iOS 18.1'] }, 10],
  [{ manufacturer: 'Apple', model: 'iPhone 13', tac: '35395211', osVersions: ['iOS 16.7.10', 'iOS 17.6.1', 'iOS 18.1'] }, 8],
  [{ manufacturer: 'Apple', model: 'iPhone SE (3rd generation)', tac: '35674108', osVersions: ['iOS 17.6.1', 'iOS 18.1'] }, 3],
  [{ manufacturer: 'Samsung', model: 'Galaxy S24', tac: '35118574', osVersions: ['Android 14', 'Android 15'] }, 9],
  [{ manufacturer: 'Samsung', model: 'Galaxy S23', tac: '35092881', osVersions: ['Android 14', 'Android 15'] }, 6],
  [{ manufacturer: 'Samsung', model: 'Galaxy A54 5G', tac: '35260367', osVersions: ['Android 13', 'Android 14'] }, 7],
  [{ manufacturer: 'Samsung', model: 'Galaxy A15', tac: '35893715', osVersions: ['Android 14'] }, 5],
  [{ manufacturer: 'Samsung', model: 'Galaxy Z Flip5', tac: '35038192', osVersions: ['Android 14', 'Android 15'] }, 2],
  [{ manufacturer: 'Google', model: 'Pixel 8', tac: '35818449', osVersions: ['Android 14', 'Android 15'] }, 5],
  [{ manufacturer: 'Google', model: 'Pixel 8 Pro', tac: '35818452', osVersions: ['Android 15'] }, 2],
  [{ manufacturer: 'Google', model: 'Pixel 7a', tac: '35578162', osVersions: ['Android 14', 'Android 15'] }, 3],
  [{ manufacturer: 'Google', model: 'Pixel 9', tac: '35297436', osVersions: ['Android 15'] }, 2],
  [{ manufacturer: 'Motorola', model: 'moto g84 5G', tac: '35922384', osVersions: ['Android 13', 'Android 14'] }, 3],
  [{ manufacturer: 'OnePlus', model: 'OnePlus 12', tac: '86876107', osVersions: ['Android 14', 'Android 15'] }, 2],
  [{ manufacturer: 'Xiaomi', model: 'Redmi Note 13', tac: '86452306', osVersions: ['Android 13', 'Android 14'] }, 3],
  [{ manufacturer: 'Nokia', model: 'G22', tac: '35321760', osVersions: ['Android 13'] }, 1],
];

/** Second devices: a spare/work phone, or a tablet or watch with its own data SIM. */
const SECOND_DEVICES: readonly (readonly [DeviceModel, number])[] = [
  ...PHONES.map(([m, w]) => [m, w / 10] as const),
  [{ manufacturer: 'Apple', model: 'iPad (10th generation)', tac: '35338911', osVersions: ['iPadOS 17.6', 'iPadOS 18.1'], tablet: true }, 3],
  [{ manufacturer: 'Apple', model: 'Apple Watch Series 9', tac: '35480574', osVersions: ['watchOS 10.6', 'watchOS 11.1'], tablet: true }, 2],
  [{ manufacturer: 'Samsung', model: 'Galaxy Tab S9', tac: '35498226', osVersions: ['Android 14'], tablet: true }, 1.5],
  [{ manufacturer: 'Samsung', model: 'Galaxy Watch6', tac: '35617342', osVersions: ['Wear OS 4'], tablet: true }, 1],
];

/** Ofcom's drama/fiction ranges: numbers that are never allocated to real lines. */
const FICTIONAL_LANDLINE_PREFIXES = [
  '+442079460', // London 020 7946 0xxx
  '+441614960', // Manchester 0161 496 0xxx
  '+441134960', // Leeds 0113 496 0xxx
  '+441174960', // Bristol 0117 496 0xxx
  '+441214960', // Birmingham 0121 496 0xxx
  '+441314960', // Edinburgh 0131 496 0xxx
  '+441414960', // Glasgow 0141 496 0xxx
  '+442920180', // Cardiff 029 2018 0xxx
] as const;

/** US area codes for fictional +1 NXX 555-01xx numbers. */
const US_AREA_CODES = ['202', '212', '312', '415', '617'] as const;

const CONSENT_SOURCES = ['app', 'web', 'call-centre', 'retail'] as const;
type ConsentSource = (typeof CONSENT_SOURCES)[number];

const SIGNUP_SOURCES: readonly (readonly [ConsentSource, number])[] = [
  ['retail', 35],
  ['web', 30],
  ['app', 25],
  ['call-centre', 10],
];
const CHANGE_SOURCES: readonly (readonly [ConsentSource, number])[] = [
  ['app', 45],
  ['web', 30],
  ['call-centre', 20],
  ['retail', 5],
];

// ---------------------------------------------------------------------------------------------
// Formatting helpers

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

function subscriberId(n: number): string {
  return `sub-${pad(n, 6)}`;
}

/** +44 70 personal-number range; a bijection of the subscriber number so seeded msisdns never repeat. */
function msisdnFor(n: number): string {
  const MOD = 100_000_000; // 8 digits after +4470
  const k = (((n % MOD) * 48_271 + 13_579_246) % MOD + MOD) % MOD; // 48271 is coprime to 10^8
  return `+4470${pad(k, 8)}`;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function isoInstant(ms: number): string {
  return new Date(ms).toISOString();
}

/** Rounds to 6 decimals and keeps the last one non-zero, so the value always shows 6 decimals. */
function coordinate(x: number): number {
  let micro = Math.round(x * 1e6);
  if (micro % 10 === 0) micro += micro >= 0 ? 1 : -1;
  return micro / 1e6;
}

const pennies = (x: number): number => Math.round(x * 100) / 100;

/** UTC midnight of the calendar day of `ms`. */
function utcMidnight(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** Whole years between `birthMs` and `nowMs` (UTC calendar). */
export function ageAt(birth: Date, now: Date): number {
  let age = now.getUTCFullYear() - birth.getUTCFullYear();
  const beforeBirthday =
    now.getUTCMonth() < birth.getUTCMonth() ||
    (now.getUTCMonth() === birth.getUTCMonth() && now.getUTCDate() < birth.getUTCDate());
  if (beforeBirthday) age--;
  return age;
}

/** A date of birth making the person exactly `age` years old at `now`. */
function dateOfBirth(rng: Rng, now: Date, age: number): string {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  // Birthday today (latest possible) and the day after the birthday `age + 1` years ago (earliest).
  let latest = Date.UTC(y - age, m, d);
  const earliest = Date.UTC(y - age - 1, m, d) + DAY_MS;
  for (let i = 0; i < 4 && ageAt(new Date(latest), now) < age; i++) latest -= DAY_MS; // 29 February
  const days = Math.round((latest - earliest) / DAY_MS);
  return isoDate(earliest + rng.int(0, days) * DAY_MS);
}

function postcode(rng: Rng, town: Town): string {
  const area = rng.pick(town.postcodeAreas);
  const district = area.length === 1 ? rng.int(1, 20) : rng.int(1, 16);
  const letters = rng.pick([...POSTCODE_INWARD_LETTERS]) + rng.pick([...POSTCODE_INWARD_LETTERS]);
  return `${area}${district} ${rng.int(1, 9)}${letters}`;
}

function emailFor(rng: Rng, first: string, last: string, n: number): string {
  const f = first.toLowerCase().replace(/[^a-z]/g, '');
  const l = last.toLowerCase().replace(/[^a-z]/g, '');
  const local = rng.weighted<string>([
    [`${f}.${l}`, 4],
    [`${f}${l}`, 2],
    [`${f[0]}.${l}`, 2],
    [`${f}_${l}`, 1],
  ]);
  // The subscriber number keeps addresses of namesakes apart.
  return `${local}${n}@${rng.pick(EMAIL_DOMAINS)}`;
}

function cellId(lac: number, ci: number): string {
  return `${MCC}-${MNC}-${pad(lac, 4)}-${pad(ci, 5)}`;
}

function randomCell(rng: Rng, townIndex: number): string {
  return cellId(1000 + townIndex * 300 + rng.int(0, 299), rng.int(10_000, 65_535));
}

function imeiFor(rng: Rng, model: DeviceModel): string {
  const body = model.tac + rng.digits(6);
  return body + String(luhnCheckDigit(body));
}

function iccidFor(rng: Rng): string {
  // 89 (telecom) 44 (UK) + issuer 15 + 12-digit account + Luhn = 19 digits.
  const body = `8944${MNC}` + rng.digits(12);
  return body + String(luhnCheckDigit(body));
}

function macAddress(rng: Rng): string {
  const bytes: string[] = [];
  for (let i = 0; i < 6; i++) {
    let b = rng.int(0, 255);
    if (i === 0) b &= 0xfe; // unicast
    bytes.push(b.toString(16).padStart(2, '0'));
  }
  return bytes.join(':');
}

function otherPartyNumber(rng: Rng): string {
  return rng.weighted<() => string>([
    [() => `+4470${rng.digits(8)}`, 70],
    [() => rng.pick(FICTIONAL_LANDLINE_PREFIXES) + rng.digits(3), 25],
    [() => `+1${rng.pick(US_AREA_CODES)}55501${rng.digits(2)}`, 5],
  ])();
}

function evidence(rng: Rng, source: ConsentSource): string {
  switch (source) {
    case 'app':
      return JSON.stringify({ channel: 'app', version: rng.pick(['3.2', '3.4', '4.0', '4.1']) });
    case 'web':
      return JSON.stringify({ channel: 'web', version: rng.pick(['2.6', '2.7', '3.0']) });
    case 'call-centre':
      return JSON.stringify({ channel: 'call-centre', version: '1.4', agent: `cc-${pad(rng.int(1, 480), 4)}` });
    case 'retail':
      return JSON.stringify({ channel: 'retail', version: '5.1', store: `st-${pad(rng.int(1, 220), 3)}` });
  }
}

// ---------------------------------------------------------------------------------------------
// Row generation

type Row = unknown[];

interface Rows {
  subscribers: Row[];
  devices: Row[];
  locations: Row[];
  cdrs: Row[];
  billing: Row[];
  invoices: Row[];
  consent: { at: number; row: Row }[];
}

function emptyRows(): Rows {
  return { subscribers: [], devices: [], locations: [], cdrs: [], billing: [], invoices: [], consent: [] };
}

function generateSubscriber(out: Rows, n: number, msisdn: string, seed: number, now: Date): void {
  const rng = new Rng(mixSeed(seed, n));
  const nowMs = now.getTime();
  const id = subscriberId(n);

  // -- subscriber
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  const townIndex = rng.weighted(WEIGHTED_TOWNS);
  const town = TOWNS[townIndex]!;
  const minor = rng.chance(0.06);
  const age = minor ? rng.int(13, 17) : rng.weighted<number>([
    [rng.int(18, 29), 22],
    [rng.int(30, 49), 36],
    [rng.int(50, 69), 28],
    [rng.int(70, 85), 14],
  ]);
  const unlisted = rng.chance(0.15);
  const address = `${rng.int(1, 180)} ${rng.pick(STREETS)}, ${town.name} ${postcode(rng, town)}`;
  out.subscribers.push([
    id,
    msisdn,
    `${first} ${last}`,
    emailFor(rng, first, last, n),
    address,
    dateOfBirth(rng, now, age),
    DEMO_AGENCIES[(n - 1) % DEMO_AGENCIES.length]!,
    unlisted ? 'UNLISTED' : 'LISTED',
  ]);

  // -- devices: a phone, sometimes a second phone, tablet or watch with its own SIM
  const deviceCount = rng.chance(0.3) ? 2 : 1;
  for (let k = 1; k <= deviceCount; k++) {
    const model = k === 1 ? rng.weighted(PHONES) : rng.weighted(SECOND_DEVICES);
    out.devices.push([
      `dev-${pad(n, 6)}-${k}`,
      id,
      imeiFor(rng, model),
      `${MCC}${MNC}${rng.digits(10)}`,
      iccidFor(rng),
      macAddress(rng),
      model.model,
      model.manufacturer,
      rng.pick(model.osVersions),
    ]);
  }

  // -- location: near the home town; GPS fixes are tight, cell fixes coarse
  const homeCell = randomCell(rng, townIndex);
  const spread = town.name === 'London' ? 0.12 : 0.06;
  const lat = Math.min(58.49, Math.max(50.01, town.lat + rng.normal() * spread * 0.6));
  const lon = Math.min(1.69, Math.max(-5.49, town.lon + rng.normal() * spread));
  const accuracy = rng.chance(0.55) ? rng.int(10, 60) + rng.int(0, 9) / 10 : rng.int(150, 2000);
  out.locations.push([
    id,
    homeCell,
    coordinate(lat),
    coordinate(lon),
    accuracy,
    isoInstant(rng.between(nowMs - 7 * DAY_MS + 60_000, nowMs - 60_000)),
  ]);

  // -- call detail records over the last 90 days
  const cells = [homeCell, randomCell(rng, townIndex), randomCell(rng, townIndex)];
  if (rng.chance(0.5)) cells.push(randomCell(rng, rng.weighted(WEIGHTED_TOWNS)));
  const contacts: string[] = [];
  for (let i = rng.int(3, 8); i > 0; i--) contacts.push(otherPartyNumber(rng));
  const cdrCount = rng.int(20, 60);
  const today = utcMidnight(nowMs);
  const calls: { at: number; row: Row }[] = [];
  for (let i = 0; i < cdrCount; i++) {
    const other = rng.chance(0.7) ? rng.pick(contacts) : otherPartyNumber(rng);
    const outbound = rng.chance(0.55);
    const duration = rng.chance(0.12)
      ? 0 // missed or unanswered
      : Math.min(3600, Math.max(1, Math.round(Math.exp(Math.log(75) + rng.normal() * 1.1))));
    let at = 0;
    for (let attempt = 0; attempt < 10; attempt++) {
      // Mostly waking hours, local time ≈ UTC for the UK.
      const hour = rng.weighted<number>([
        [rng.int(0, 6), 4],
        [rng.int(7, 11), 30],
        [rng.int(12, 17), 38],
        [rng.int(18, 23), 28],
      ]);
      at = today - rng.int(0, 90) * DAY_MS + hour * HOUR_MS + rng.int(0, 3599) * 1000;
      if (at > nowMs - 90 * DAY_MS && at + duration * 1000 < nowMs) break;
      at = rng.between(nowMs - 89 * DAY_MS, nowMs - 2 * HOUR_MS);
    }
    calls.push({
      at,
      row: [
        '', // id, assigned in time order below
        id,
        outbound ? msisdn : other,
        outbound ? other : msisdn,
        isoInstant(at),
        duration,
        outbound ? 'OUTBOUND' : 'INBOUND',
        rng.chance(0.5) ? homeCell : rng.pick(cells),
      ],
    });
  }
  calls.sort((a, b) => a.at - b.at);
  calls.forEach((c, i) => {
    c.row[0] = `cdr-${pad(n, 6)}-${pad(i + 1, 4)}`;
    out.cdrs.push(c.row);
  });

  // -- invoices for the months before this one, and the billing account
  const plan = rng.pick([8, 10, 12, 15, 18, 22, 25, 30, 36, 45]);
  const invoiceCount = rng.int(3, 6);
  let latestAmount = plan;
  for (let k = 1; k <= invoiceCount; k++) {
    const month = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - k, 1));
    const period = `${month.getUTCFullYear()}-${pad(month.getUTCMonth() + 1, 2)}`;
    const amount = pennies(plan + (rng.chance(0.3) ? 1.5 + rng.float() * 23.5 : 0));
    if (k === 1) latestAmount = amount;
    out.invoices.push([`inv-${pad(n, 6)}-${period.replace('-', '')}`, id, period, amount]);
  }
  const balance = rng.weighted<number>([
    [0, 70],
    [latestAmount, 22],
    [-pennies(1 + rng.float() * 14), 8], // in credit
  ]);
  const expiry = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + rng.int(1, 60), 1));
  out.billing.push([
    id,
    balance,
    'GBP',
    rng.weighted<string>([['VISA', 55], ['MASTERCARD', 35], ['AMEX', 10]]),
    rng.digits(4),
    `${pad(expiry.getUTCMonth() + 1, 2)}/${pad(expiry.getUTCFullYear() % 100, 2)}`,
  ]);

  // -- consent history
  const since = rng.between(nowMs - 6 * 365 * DAY_MS, nowMs - 45 * DAY_MS); // customer since
  const event = (purpose: string, action: 'GRANT' | 'WITHDRAW', at: number, source: ConsentSource): void => {
    out.consent.push({ at, row: [id, purpose, action, isoInstant(at), source, evidence(rng, source)] });
  };
  const latestBefore = nowMs - HOUR_MS;
  /** A whole-second instant between `after` + 1 h and `latestBefore`. */
  const later = (after: number): number => rng.between(Math.min(after + HOUR_MS, latestBefore), latestBefore);

  let marketingSince: number | undefined;
  if (rng.chance(minor ? 0.12 : 0.42)) {
    const granted = rng.chance(0.7) ? since + rng.int(0, 3600) * 1000 : later(since);
    event('MARKETING', 'GRANT', granted, rng.weighted(SIGNUP_SOURCES));
    marketingSince = granted;
    if (rng.chance(0.25) && granted + 2 * HOUR_MS < latestBefore) {
      const withdrawn = later(granted);
      event('MARKETING', 'WITHDRAW', withdrawn, rng.weighted(CHANGE_SOURCES));
      marketingSince = undefined;
      if (rng.chance(0.15) && withdrawn + 2 * HOUR_MS < latestBefore) {
        const regranted = later(withdrawn);
        event('MARKETING', 'GRANT', regranted, rng.weighted(CHANGE_SOURCES));
        marketingSince = regranted;
      }
    }
  }
  if (marketingSince !== undefined) {
    // Happy with marketing in general, but not by text (or e-mail).
    if (rng.chance(0.15)) event('MARKETING_SMS', 'WITHDRAW', later(marketingSince), rng.weighted(CHANGE_SOURCES));
    if (rng.chance(0.08)) event('MARKETING_EMAIL', 'WITHDRAW', later(marketingSince), rng.weighted(CHANGE_SOURCES));
  } else if (rng.chance(0.04)) {
    event('MARKETING_EMAIL', 'GRANT', later(since), rng.weighted(CHANGE_SOURCES));
  }
  if (rng.chance(minor ? 0.1 : 0.3)) {
    const granted = later(since);
    event('ANALYTICS', 'GRANT', granted, 'app');
    if (rng.chance(0.15) && granted + 2 * HOUR_MS < latestBefore) event('ANALYTICS', 'WITHDRAW', later(granted), rng.weighted(CHANGE_SOURCES));
  }
  if (rng.chance(unlisted ? 0.5 : 0.01)) {
    event('DIRECTORY_SERVICES', 'WITHDRAW', later(since), rng.weighted(CHANGE_SOURCES));
  }
}

// ---------------------------------------------------------------------------------------------
// Inserting

async function insertRows(tx: Pick<Db, 'query'>, table: string, columns: readonly string[], rows: readonly Row[]): Promise<void> {
  const perStatement = Math.max(1, Math.floor(MAX_PARAMS / columns.length));
  for (let start = 0; start < rows.length; start += perStatement) {
    const chunk = rows.slice(start, start + perStatement);
    const params: unknown[] = [];
    const tuples: string[] = [];
    for (const row of chunk) {
      const placeholders: string[] = [];
      for (const value of row) {
        params.push(value);
        placeholders.push(`$${params.length}`);
      }
      tuples.push(`(${placeholders.join(',')})`);
    }
    await tx.query(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(',')}`, params);
  }
}

async function insertAll(tx: Pick<Db, 'query'>, rows: Rows): Promise<void> {
  await insertRows(tx, 'subscribers',
    ['id', 'msisdn', 'full_name', 'email', 'postal_address', 'date_of_birth', 'agency_id', 'directory_listing'], rows.subscribers);
  await insertRows(tx, 'devices',
    ['id', 'subscriber_id', 'imei', 'imsi', 'iccid', 'mac_address', 'model', 'manufacturer', 'os_version'], rows.devices);
  await insertRows(tx, 'locations',
    ['subscriber_id', 'cell_id', 'latitude', 'longitude', 'accuracy_meters', 'observed_at'], rows.locations);
  await insertRows(tx, 'call_detail_records',
    ['id', 'subscriber_id', 'calling_number', 'called_number', 'started_at', 'duration_seconds', 'direction', 'cell_id'], rows.cdrs);
  await insertRows(tx, 'billing_accounts',
    ['subscriber_id', 'balance', 'currency', 'card_brand', 'card_last4', 'card_expiry'], rows.billing);
  await insertRows(tx, 'invoices', ['id', 'subscriber_id', 'period', 'amount'], rows.invoices);
  // The log is append-only: insert in time order so ids grow with `at`.
  const consent = [...rows.consent].sort((a, b) => a.at - b.at);
  await insertRows(tx, 'consent_events',
    ['subscriber_id', 'purpose', 'action', 'at', 'source', 'evidence'], consent.map((e) => e.row));
}

/**
 * Adds `options.subscribers` demo subscribers (with devices, location, CDRs, billing, invoices and
 * consent events) after the highest existing `sub-NNNNNN` id, in one transaction.
 */
export async function seedDemoData(db: Db, options: SeedOptions): Promise<SeedSummary> {
  const count = options.subscribers;
  if (!Number.isInteger(count) || count < 0) throw new Error(`subscribers must be a non-negative integer, got ${count}`);
  const seed = options.seed ?? 42;
  if (!Number.isFinite(seed)) throw new Error(`seed must be a number, got ${seed}`);
  const now = options.now ?? new Date();
  if (Number.isNaN(now.getTime())) throw new Error('now must be a valid date');

  return db.transaction(async (tx) => {
    // Two seeders against one PostgreSQL server must not pick the same ids.
    if (db.kind === 'postgres') await tx.query('SELECT pg_advisory_xact_lock(7201006)');
    if (options.ifEmpty) {
      // Replicas starting together on one empty database: the first one seeds, the rest see its rows.
      const any = await tx.query('SELECT 1 FROM subscribers LIMIT 1');
      if (any.rows.length > 0) return { subscribers: 0, devices: 0, cdrs: 0, invoices: 0, consentEvents: 0, agencies: [] };
    }
    const max = await tx.query<{ max: number | string | null }>(
      `SELECT max(substring(id FROM 5)::bigint) AS max FROM subscribers WHERE id ~ '^sub-[0-9]{1,15}$'`,
    );
    const first = Number(max.rows[0]?.max ?? 0) + 1;

    const summary: SeedSummary = { subscribers: 0, devices: 0, cdrs: 0, invoices: 0, consentEvents: 0, agencies: [] };
    const agencies = new Set<string>();
    let probe = 0; // next candidate number for msisdns taken by rows that were not seeded here
    for (let start = first; start < first + count; start += SUBSCRIBERS_PER_ROUND) {
      const end = Math.min(first + count, start + SUBSCRIBERS_PER_ROUND);
      const numbers: number[] = [];
      for (let n = start; n < end; n++) numbers.push(n);

      // msisdns are a bijection of the subscriber number; only rows added by other means can clash.
      const msisdns = new Map(numbers.map((n) => [n, msisdnFor(n)]));
      const taken = await tx.query<{ msisdn: string }>('SELECT msisdn FROM subscribers WHERE msisdn = ANY($1)', [
        [...msisdns.values()],
      ]);
      if (taken.rows.length > 0) {
        const clash = new Set(taken.rows.map((r) => r.msisdn));
        for (const n of numbers) {
          let candidate = msisdns.get(n)!;
          while (clash.has(candidate)) {
            probe++;
            candidate = msisdnFor(99_999_999 - probe); // walk the range from the far end
            const used = await tx.query('SELECT 1 FROM subscribers WHERE msisdn = $1', [candidate]);
            if (used.rows.length > 0) clash.add(candidate);
          }
          msisdns.set(n, candidate);
        }
      }

      const rows = emptyRows();
      for (const n of numbers) generateSubscriber(rows, n, msisdns.get(n)!, seed, now);
      await insertAll(tx, rows);

      summary.subscribers += rows.subscribers.length;
      summary.devices += rows.devices.length;
      summary.cdrs += rows.cdrs.length;
      summary.invoices += rows.invoices.length;
      summary.consentEvents += rows.consent.length;
      for (const r of rows.subscribers) agencies.add(r[6] as string);
    }
    summary.agencies = [...agencies].sort();
    return summary;
  });
}
