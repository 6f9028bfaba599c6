import fc from 'fast-check';

/**
 * Random GraphQL operations over the whole subscriber schema, as a logical tree (FieldSel) that is
 * rendered to a document with random aliases, named fragments, inline fragments (on the object
 * type, on `Node`, without a type condition), `__typename`, `@skip` and duplicated fields. The
 * oracle walks the same tree, merged the way GraphQL merges fields that share a response key.
 */

/** How a field is placed in its selection set. */
export type Wrap = 'plain' | 'inline' | 'bare' | 'named' | 'node';

/** An argument value: a literal, an enum value, or the page cursor that ends at a subscriber id. */
export type ArgValue = string | number | { enumValue: string } | { cursorAfter: string };

/** One selected field. `alias` and `dropped` are set by finalise(). */
export interface FieldSel {
  name: string;
  args?: Array<[string, ArgValue]>;
  /** Arguments passed as operation variables rather than literals. */
  vars?: boolean;
  wantAlias: boolean;
  wrap: Wrap;
  /** Rendered with `@skip(if: true)` (or `@include(if: false)`): absent from the response. */
  skip: boolean;
  children?: FieldSel[];
  alias?: string;
  dropped?: boolean;
}

/** The operation: its root selections. */
export interface Operation {
  kind: 'query' | 'mutation';
  roots: FieldSel[];
}

/** Object types of the API and their leaf fields (src/generated/api.graphql). */
export const LEAVES = {
  Subscriber: ['id', 'msisdn', 'fullName', 'email', 'postalAddress', 'dateOfBirth', 'agencyId', 'directoryListing'],
  Device: ['imei', 'imsi', 'iccid', 'macAddress', 'model', 'manufacturer', 'osVersion'],
  Location: ['cellId', 'latitude', 'longitude', 'accuracyMeters', 'observedAt'],
  CallDetailRecord: ['id', 'callingNumber', 'calledNumber', 'startedAt', 'durationSeconds', 'direction', 'cellId'],
  BillingAccount: ['balance', 'currency'],
  PaymentCard: ['brand', 'last4', 'expiry'],
  Invoice: ['id', 'period', 'amount'],
  Consent: ['purpose', 'state', 'source', 'at'],
  PageInfo: ['endCursor', 'hasNextPage'],
} as const;

/** The type of each object-valued field, by parent type. */
export const OBJECT_FIELDS: Record<string, Record<string, string>> = {
  Query: { subscriber: 'Subscriber', subscriberByMsisdn: 'Subscriber', subscribers: 'SubscriberConnection', node: 'Node' },
  Subscriber: { devices: 'Device', lastKnownLocation: 'Location', callDetailRecords: 'CallDetailRecordConnection', billingAccount: 'BillingAccount', consents: 'Consent' },
  SubscriberConnection: { nodes: 'Subscriber', pageInfo: 'PageInfo' },
  CallDetailRecordConnection: { nodes: 'CallDetailRecord', pageInfo: 'PageInfo' },
  BillingAccount: { paymentCard: 'PaymentCard', invoices: 'Invoice' },
  Node: {},
};

const wrapArb: fc.Arbitrary<Wrap> = fc.oneof(
  { weight: 12, arbitrary: fc.constant<Wrap>('plain') },
  { weight: 2, arbitrary: fc.constant<Wrap>('inline') },
  { weight: 1, arbitrary: fc.constant<Wrap>('bare') },
  { weight: 3, arbitrary: fc.constant<Wrap>('named') },
  { weight: 2, arbitrary: fc.constant<Wrap>('node') },
);
const aliasArb = fc.oneof({ weight: 5, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });
const skipArb = fc.oneof({ weight: 19, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) });

function leafArb(type: keyof typeof LEAVES): fc.Arbitrary<FieldSel> {
  return fc.record({
    name: fc.oneof({ weight: 12, arbitrary: fc.constantFrom<string>(...LEAVES[type]) }, { weight: 1, arbitrary: fc.constant('__typename') }),
    wantAlias: aliasArb,
    wrap: wrapArb,
    skip: skipArb,
  });
}

function objectArb(name: string, children: fc.Arbitrary<FieldSel[]>, args: fc.Arbitrary<Array<[string, ArgValue]> | undefined> = fc.constant(undefined)): fc.Arbitrary<FieldSel> {
  return fc
    .record({ name: fc.constant(name), args, vars: fc.boolean(), wantAlias: aliasArb, wrap: wrapArb, skip: skipArb, children })
    .map(({ args, vars, ...f }): FieldSel => (args === undefined ? f : { ...f, args, vars }));
}

/** Page sizes: small ones, and rarely one above the default `first` limit of 500 (QUERY_TOO_COMPLEX). */
export const FIRST_LIMIT = 500;
const pageSize = (max: number) => fc.oneof({ weight: 150, arbitrary: fc.integer({ min: 0, max }) }, { weight: 1, arbitrary: fc.integer({ min: FIRST_LIMIT + 1, max: 5000 }) });

const set = (items: fc.Arbitrary<FieldSel>, max: number) => fc.array(items, { minLength: 1, maxLength: max });

const pageInfo = objectArb('pageInfo', set(leafArb('PageInfo'), 3));
const deviceSet = set(leafArb('Device'), 6);
const locationSet = set(leafArb('Location'), 5);
/**
 * callDetailRecords(first, since, until): `times` are instants to filter on (call start times of
 * the store, a millisecond either side of them, and far ones), to probe the range's ends.
 */
function cdrConnection(times: readonly string[]): fc.Arbitrary<FieldSel> {
  const time = fc.option(fc.constantFrom(...times), { nil: undefined, freq: 3 });
  const args = fc
    .record({ first: fc.option(pageSize(4), { nil: undefined, freq: 4 }), since: time, until: time })
    .map(({ first, since, until }): Array<[string, ArgValue]> | undefined => {
      const out: Array<[string, ArgValue]> = [];
      if (first !== undefined) out.push(['first', first]);
      if (since !== undefined) out.push(['since', since]);
      if (until !== undefined) out.push(['until', until]);
      return out.length ? out : undefined;
    });
  return objectArb(
    'callDetailRecords',
    set(fc.oneof({ weight: 4, arbitrary: objectArb('nodes', set(leafArb('CallDetailRecord'), 6)) }, { weight: 1, arbitrary: pageInfo }, { weight: 1, arbitrary: leafTypename() }), 3),
    args,
  );
}
const billingSet = set(
  fc.oneof(
    { weight: 3, arbitrary: leafArb('BillingAccount') },
    { weight: 2, arbitrary: objectArb('paymentCard', set(leafArb('PaymentCard'), 4)) },
    { weight: 2, arbitrary: objectArb('invoices', set(leafArb('Invoice'), 4)) },
  ),
  5,
);

function leafTypename(): fc.Arbitrary<FieldSel> {
  return fc.record({ name: fc.constant('__typename'), wantAlias: aliasArb, wrap: wrapArb, skip: fc.constant(false) });
}

/** A selection set on Subscriber: leaves and every nested container. */
export function subscriberSet(times: readonly string[]): fc.Arbitrary<FieldSel[]> {
  return set(
    fc.oneof(
      { weight: 10, arbitrary: leafArb('Subscriber') },
      { weight: 2, arbitrary: objectArb('devices', deviceSet) },
      { weight: 2, arbitrary: objectArb('lastKnownLocation', locationSet) },
      { weight: 2, arbitrary: cdrConnection(times) },
      { weight: 2, arbitrary: objectArb('billingAccount', billingSet) },
      { weight: 1, arbitrary: objectArb('consents', set(leafArb('Consent'), 4)) },
    ),
    8,
  );
}

/** Root selections: subscriber(id), node(id), subscriberByMsisdn, subscribers(first, after). */
export function rootArb(pools: { ids: readonly string[]; msisdns: readonly string[]; listedIds: readonly string[]; times: readonly string[] }): fc.Arbitrary<FieldSel> {
  const id = fc.constantFrom(...pools.ids);
  const subscriberFields = subscriberSet(pools.times);
  const byId = (name: string) => objectArb(name, subscriberFields, id.map((v): Array<[string, ArgValue]> => [['id', v]]));
  const byMsisdn = objectArb('subscriberByMsisdn', subscriberFields, fc.constantFrom(...pools.msisdns).map((v): Array<[string, ArgValue]> => [['msisdn', v]]));
  const listArgs = fc
    .tuple(pageSize(6), fc.option(fc.constantFrom(...pools.listedIds), { nil: undefined, freq: 2 }))
    .map(([first, after]): Array<[string, ArgValue]> => (after === undefined ? [['first', first]] : [['first', first], ['after', { cursorAfter: after }]]));
  const list = objectArb(
    'subscribers',
    set(fc.oneof({ weight: 4, arbitrary: objectArb('nodes', subscriberFields) }, { weight: 1, arbitrary: pageInfo }, { weight: 1, arbitrary: leafTypename() }), 3),
    listArgs,
  );
  return fc.oneof(
    { weight: 8, arbitrary: byId('subscriber') },
    { weight: 4, arbitrary: byId('node') },
    { weight: 4, arbitrary: byMsisdn },
    { weight: 6, arbitrary: list },
    { weight: 1, arbitrary: leafTypename() },
  );
}

/** A query: two to five root fields (five is the default root field limit). */
export function operationArb(pools: Parameters<typeof rootArb>[0]): fc.Arbitrary<Operation> {
  return fc.array(rootArb(pools), { minLength: 2, maxLength: 5 }).map((roots) => finalise({ kind: 'query', roots }, 30));
}

/**
 * A mutation: one grantConsent or withdrawConsent (one root field, so whether it ran never depends
 * on another mutation of the same document), selecting some Consent fields.
 */
export function mutationArb(pools: { ids: readonly string[]; purposes: readonly string[] }): fc.Arbitrary<Operation> {
  return fc
    .record({
      name: fc.constantFrom('grantConsent', 'withdrawConsent'),
      args: fc
        .tuple(fc.constantFrom(...pools.ids), fc.constantFrom(...pools.purposes), fc.constantFrom('app', 'web', 'call centre'))
        .map(([id, purpose, source]): Array<[string, ArgValue]> => [['subscriberId', id], ['purpose', { enumValue: purpose }], ['source', source]]),
      vars: fc.boolean(),
      wantAlias: aliasArb,
      wrap: fc.constantFrom<Wrap>('plain', 'named', 'inline'),
      skip: fc.constant(false),
      children: set(leafArb('Consent'), 4),
    })
    .map((root) => finalise({ kind: 'mutation', roots: [root] }, 30));
}

/** Fields merge only when their arguments are written the same way (same literals, or the same variables). */
const signature = (f: FieldSel) => `${f.name}(${JSON.stringify(f.args ?? [])})${f.vars ? '$' : ''}`;

/**
 * Gives every field a unique response key per (merged) selection set: a wanted alias, or one
 * needed because another field with different arguments already holds the name. Fields that
 * share a key and a signature are merged, as GraphQL does; fields over the alias budget are dropped.
 */
export function finalise(input: Operation, aliasBudget: number): Operation {
  // On a copy: fast-check hands the same generated field objects to several cases (shrinking
  // among them), and an alias set here must not leak into the next case.
  const op = structuredClone(input);
  const budget = { left: aliasBudget, next: 0 };
  const visit = (fields: FieldSel[]) => {
    const sigByKey = new Map<string, string>();
    const groups = new Map<string, FieldSel[]>();
    for (const f of fields) {
      const sig = signature(f);
      const clash = sigByKey.has(f.name) && sigByKey.get(f.name) !== sig;
      if (f.wantAlias || clash) {
        if (budget.left > 0) {
          f.alias = `a${budget.next++}`;
          budget.left--;
        } else if (clash) {
          f.dropped = true;
          continue;
        }
      }
      const key = f.alias ?? f.name;
      sigByKey.set(key, sig);
      (groups.get(key) ?? groups.set(key, []).get(key)!).push(f);
    }
    for (const g of groups.values()) {
      const children = g.flatMap((f) => f.children ?? []);
      if (children.length) visit(children);
      // A field whose every child was dropped would render as `name {  }`, which does not parse:
      // it is dropped too. (The first field of a selection never clashes, nor does its first child,
      // so the first root always stays.)
      for (const f of g) if (f.children?.length && f.children.every((c) => c.dropped)) f.dropped = true;
    }
  };
  visit(op.roots);
  return op;
}

/** GraphQL types of the arguments the generator uses, for variable definitions. */
const ARG_TYPES: Record<string, string> = {
  'subscriber.id': 'ID!',
  'node.id': 'ID!',
  'subscriberByMsisdn.msisdn': 'String!',
  'subscribers.first': 'Int',
  'subscribers.after': 'String',
  'callDetailRecords.first': 'Int',
  'callDetailRecords.since': 'DateTime',
  'callDetailRecords.until': 'DateTime',
  'grantConsent.subscriberId': 'ID!',
  'grantConsent.purpose': 'Purpose!',
  'grantConsent.source': 'String',
  'withdrawConsent.subscriberId': 'ID!',
  'withdrawConsent.purpose': 'Purpose!',
  'withdrawConsent.source': 'String',
};

/** Renders an operation to a document and its variables; `cursor(id)` gives the page cursor that ends at `id`. */
export function renderOperation(op: Operation, cursor: (id: string) => string): { query: string; variables: Record<string, unknown> } {
  const fragments: string[] = [];
  const variables: Record<string, unknown> = {};
  const definitions: string[] = [];
  /** One variable per (type, value): fields that merge then pass the very same variable. */
  const variableFor = new Map<string, string>();
  const value = (v: ArgValue): unknown => (typeof v === 'object' ? ('enumValue' in v ? v.enumValue : cursor(v.cursorAfter)) : v);
  const literal = (v: ArgValue) => (typeof v === 'object' && 'enumValue' in v ? v.enumValue : JSON.stringify(value(v)));
  const arg = (f: FieldSel, k: string, v: ArgValue) => {
    if (!f.vars) return literal(v);
    const type = ARG_TYPES[`${f.name}.${k}`];
    if (!type) throw new Error(`No variable type for "${f.name}.${k}".`);
    const id = `${type}|${JSON.stringify(value(v))}`;
    let name = variableFor.get(id);
    if (!name) {
      name = `v${variableFor.size}`;
      variableFor.set(id, name);
      definitions.push(`$${name}: ${type}`);
      variables[name] = value(v);
    }
    return `$${name}`;
  };
  const field = (f: FieldSel, type: string): string => {
    const head = `${f.alias ? `${f.alias}: ` : ''}${f.name}${f.args?.length ? `(${f.args.map(([k, v]) => `${k}: ${arg(f, k, v)}`).join(', ')})` : ''}`;
    const dir = f.skip ? (f.name.length % 2 ? ' @skip(if: true)' : ' @include(if: false)') : '';
    const childType = type === 'Mutation' ? 'Consent' : OBJECT_FIELDS[type]?.[f.name];
    return `${head}${dir}${f.children && childType ? ` { ${selection(f.children, childType)} }` : ''}`;
  };
  const place = (f: FieldSel, type: string): string => {
    // The interface Node has only `id` (and __typename); every other field needs `... on Subscriber`.
    const onNode = f.name === 'id' || f.name === '__typename';
    const objectType = type === 'Node' ? 'Subscriber' : type;
    let wrap = f.wrap;
    if (wrap === 'node' && !(onNode && (type === 'Subscriber' || type === 'Node'))) wrap = 'inline';
    if (type === 'Node' && !onNode && (wrap === 'plain' || wrap === 'bare')) wrap = 'inline';
    const text = field(f, objectType);
    switch (wrap) {
      case 'plain':
        return text;
      case 'bare':
        return `... { ${text} }`;
      case 'inline':
        return `... on ${objectType} { ${text} }`;
      case 'node':
        return `... on Node { ${text} }`;
      case 'named': {
        // `text` is rendered already, so fragments nested in it have their numbers: this one's is next.
        const name = `F${fragments.length}`;
        fragments.push(`fragment ${name} on ${objectType} { ${text} }`);
        return `...${name}`;
      }
    }
  };
  const selection = (fields: FieldSel[], type: string) =>
    fields
      .filter((f) => !f.dropped)
      .map((f) => place(f, type))
      .join(' ');
  const root = op.kind === 'mutation' ? 'Mutation' : 'Query';
  const body = selection(op.roots, root);
  const head = `${op.kind} Differential${definitions.length ? `(${definitions.join(', ')})` : ''}`;
  return { query: [`${head} { ${body} }`, ...fragments].join('\n'), variables };
}

/** A field group as the response shows it: fields sharing a response key, merged (skipped and dropped ones left out). */
export interface MergedField {
  key: string;
  name: string;
  args: Map<string, ArgValue>;
  children: FieldSel[];
}

/** Merges a selection set the way GraphQL's field collection does. */
export function mergeFields(fields: readonly FieldSel[]): MergedField[] {
  const out = new Map<string, MergedField>();
  for (const f of fields) {
    if (f.dropped || f.skip) continue;
    const key = f.alias ?? f.name;
    const g = out.get(key);
    if (g) g.children.push(...(f.children ?? []));
    else out.set(key, { key, name: f.name, args: new Map(f.args ?? []), children: [...(f.children ?? [])] });
  }
  return [...out.values()];
}
