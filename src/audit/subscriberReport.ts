import type { Db } from '../db/index.js';
import type { AuditLeaf } from './AuditRecord.js';
import { LEAF_COLUMNS, leafText, type StoredLeaf } from './leafStorage.js';

/** One access to a subscriber's data, as the subscriber is told of it (GDPR Art. 15). */
export interface AccessEntry {
  at: string;
  recordId: string;
  who: { sub: string; kind: string; agency?: string };
  purpose: string | null;
  released: string[];
  masked: string[];
  denied: Array<{ coordinate: string; reason: string }>;
}

/** Every logged access that touched one subscriber, oldest first, with only their decisions. */
export async function subscriberAccesses(db: Pick<Db, 'query'>, subscriberId: string): Promise<AccessEntry[]> {
  const { rows } = await db.query<StoredLeaf>(`SELECT ${LEAF_COLUMNS} FROM audit_records WHERE subscriber_ids @> ARRAY[$1]::text[] ORDER BY at, record_id`, [
    subscriberId,
  ]);
  return rows.map((row) => {
    const leaf = JSON.parse(leafText(row)) as AuditLeaf;
    const mine = leaf.decisions.filter((d) => d.subscriberId === subscriberId);
    const who: AccessEntry['who'] = { sub: leaf.caller?.sub ?? '', kind: leaf.caller?.kind ?? '' };
    if (leaf.caller?.agency) who.agency = leaf.caller.agency;
    return {
      at: leaf.at,
      recordId: leaf.recordId,
      who,
      purpose: leaf.purpose,
      released: [...new Set(mine.filter((d) => d.effect === 'ALLOW').map((d) => d.coordinate))].sort(),
      masked: [...new Set(mine.filter((d) => d.effect === 'MASK').map((d) => d.coordinate))].sort(),
      denied: mine.filter((d) => d.effect === 'DENY').map((d) => ({ coordinate: d.coordinate, reason: d.reason ?? '' })),
    };
  });
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173'];

/**
 * The subscriber's access report as one self-contained HTML page: a stacked bar chart of
 * accesses per day by purpose (inline SVG, no script, no network) and the table of accesses.
 */
export function reportHtml(subscriberId: string, entries: readonly AccessEntry[], generatedAt: string): string {
  const days = [...new Set(entries.map((e) => e.at.slice(0, 10)))].sort();
  const purposes = [...new Set(entries.map((e) => e.purpose ?? '(none)'))].sort();
  const counts = new Map<string, number>();
  for (const e of entries) {
    const k = `${e.at.slice(0, 10)}|${e.purpose ?? '(none)'}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  const max = Math.max(1, ...days.map((d) => purposes.reduce((s, p) => s + (counts.get(`${d}|${p}`) ?? 0), 0)));
  const W = 760;
  const H = 260;
  const pad = 40;
  const barW = days.length ? Math.max(4, Math.min(60, (W - 2 * pad) / days.length - 6)) : 0;
  const bars: string[] = [];
  days.forEach((d, i) => {
    let y = H - pad;
    const x = pad + i * ((W - 2 * pad) / Math.max(1, days.length)) + 3;
    purposes.forEach((p, j) => {
      const n = counts.get(`${d}|${p}`) ?? 0;
      if (n === 0) return;
      const h = ((H - 2 * pad) * n) / max;
      y -= h;
      bars.push(`<rect class="bar" data-day="${d}" data-purpose="${esc(p)}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[j % COLORS.length]}"><title>${d} ${esc(p)}: ${n}</title></rect>`);
    });
    bars.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${H - pad + 14}" font-size="10" text-anchor="middle">${d.slice(5)}</text>`);
  });
  const legend = purposes.map((p, j) => `<span class="key"><i style="background:${COLORS[j % COLORS.length]}"></i>${esc(p)}</span>`).join(' ');
  const rows = entries
    .map(
      (e) => `<tr><td>${esc(e.at)}</td><td>${esc(e.who.kind)}: ${esc(e.who.sub)}${e.who.agency ? ` (${esc(e.who.agency)})` : ''}</td><td>${esc(e.purpose ?? '')}</td>` +
        `<td>${esc(e.released.join(', '))}</td><td>${esc(e.masked.join(', '))}</td><td>${esc(e.denied.map((d) => `${d.coordinate} (${d.reason})`).join(', '))}</td><td><code>${esc(e.recordId)}</code></td></tr>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Access report for ${esc(subscriberId)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}td,th{border:1px solid #ccc;padding:4px 6px;text-align:left;vertical-align:top}th{background:#f3f3f3}.key{margin-right:1em}.key i{display:inline-block;width:10px;height:10px;margin-right:4px}</style></head>
<body>
<h1>Who accessed the data of subscriber ${esc(subscriberId)}</h1>
<p>${entries.length} logged accesses. Generated ${esc(generatedAt)} from the tamper-evident audit log; each row names its record id, which an auditor can prove is in the log.</p>
<h2>Accesses per day by purpose</h2>
<svg id="chart" role="img" aria-label="Accesses per day by purpose" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg">
<line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#888"/><text x="4" y="${pad}" font-size="10">${max}</text>
${bars.join('\n')}
</svg>
<p>${legend}</p>
<h2>Accesses</h2>
<table id="accesses"><thead><tr><th>when (UTC)</th><th>who</th><th>purpose</th><th>released</th><th>masked</th><th>denied</th><th>record</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
