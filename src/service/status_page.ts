// The model owner's status page: one self-contained HTML page (inline CSS, no script, no
// external resource) listing models, owners, keys (ids only), offers, adapters and jobs
// with their evaluation numbers. Served at GET / with the admin token.
import { esc } from '../experiment/svg.js';

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1180px;padding:0 16px;color:#1b1b1b}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:6px 0 14px}
th,td{padding:3px 9px;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}th{background:#f4f4f4}
td.state-failed{color:#b3261e;font-weight:700}td.state-done,td.state-ready{color:#0a7a2f}code{font-size:12px}`;

function cell(key: string, v: unknown): string {
  if (v === null || v === undefined) return '<td>—</td>';
  const text = typeof v === 'object' ? JSON.stringify(v) : String(v);
  const shown = /^(result|settings|aggregated_from)$/.test(key) && text.length > 160 ? `${text.slice(0, 160)}…` : text;
  return `<td${key === 'state' ? ` class="state-${esc(text)}"` : ''}>${key === 'package' || key === 'fingerprint' ? `<code>${esc(shown.slice(0, 16))}…</code>` : esc(shown)}</td>`;
}

export function renderStatusPage(list: Record<string, unknown[]>): string {
  const out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>scaleot service</title>', `<style>${CSS}</style></head><body>`, '<h1>scaleot service: status</h1>'];
  for (const [section, rows] of Object.entries(list)) {
    out.push(`<h2 id="${esc(section)}">${esc(section)} (${rows.length})</h2>`);
    if (rows.length === 0) {
      out.push('<p>none</p>');
      continue;
    }
    const keys = Object.keys(rows[0] as Record<string, unknown>);
    out.push(`<table class="${esc(section)}"><thead><tr>${keys.map((k) => `<th>${esc(k)}</th>`).join('')}</tr></thead><tbody>`);
    for (const r of rows as Record<string, unknown>[]) out.push(`<tr>${keys.map((k) => cell(k, r[k])).join('')}</tr>`);
    out.push('</tbody></table>');
  }
  out.push('</body></html>\n');
  return out.join('\n');
}
