// Small SVG charts for the report: line charts (optionally log-scaled), bar charts and
// heatmaps, written as plain SVG text so report.html needs no script and no network.

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Colour-blind-safe palette (Okabe-Ito). */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];

const W = 560, H = 320, M = { left: 64, right: 150, top: 36, bottom: 48 };

/** "Nice" tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
    }
  }
  return out.length >= 2 ? out : niceTicks(lo, hi);
}

export const fmtNum = (v: number) => (Math.abs(v) >= 1000 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : Number(v.toPrecision(3)).toString());

export interface Series {
  name: string;
  points: [number, number][];
  dashed?: boolean;
  color?: string;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logY?: boolean;
  /** Horizontal reference lines (e.g. ZS and FT). */
  references?: { name: string; y: number }[];
  /** Categorical x: ticks at the data's x values only. */
  xTicksAtData?: boolean;
}

export function lineChart(spec: LineChartSpec): string {
  const ys = [...spec.series.flatMap((s) => s.points.map((p) => p[1])), ...(spec.references ?? []).map((r) => r.y)].filter((v) => Number.isFinite(v) && (!spec.logY || v > 0));
  const xs = spec.series.flatMap((s) => s.points.map((p) => p[0]));
  if (ys.length === 0 || xs.length === 0) return emptyChart(spec.title);
  let [ylo, yhi] = [Math.min(...ys), Math.max(...ys)];
  if (spec.logY) {
    ylo /= 1.15;
    yhi *= 1.15;
  } else {
    const pad = (yhi - ylo || Math.abs(yhi) || 1) * 0.08;
    ylo -= pad;
    yhi += pad;
  }
  let [xlo, xhi] = [Math.min(...xs), Math.max(...xs)];
  if (xlo === xhi) (xlo -= 1), (xhi += 1);
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const X = (x: number) => M.left + ((x - xlo) / (xhi - xlo)) * pw;
  const Y = (y: number) => (spec.logY ? M.top + (1 - (Math.log(y) - Math.log(ylo)) / (Math.log(yhi) - Math.log(ylo))) * ph : M.top + (1 - (y - ylo) / (yhi - ylo)) * ph);
  const yt = spec.logY ? logTicks(ylo, yhi) : niceTicks(ylo, yhi);
  const xt = spec.xTicksAtData ? [...new Set(xs)].sort((a, b) => a - b) : niceTicks(xlo, xhi);
  const parts: string[] = [];
  parts.push(frame(spec.title, spec.xLabel, spec.yLabel));
  for (const t of yt) parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" class="grid"/><text x="${M.left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end" class="tick">${fmtNum(t)}</text>`);
  for (const t of xt) parts.push(`<text x="${X(t).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" class="tick">${fmtNum(t)}</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" class="plot"/>`);
  let legendY = M.top + 8;
  const legend = (name: string, color: string, dashed: boolean) => {
    parts.push(`<line x1="${W - M.right + 10}" x2="${W - M.right + 30}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"${dashed ? ' stroke-dasharray="5 3"' : ''}/><text x="${W - M.right + 35}" y="${legendY + 4}" class="legend">${esc(name)}</text>`);
    legendY += 16;
  };
  (spec.references ?? []).forEach((r, i) => {
    if (!Number.isFinite(r.y) || (spec.logY && r.y <= 0)) return;
    const color = i === 0 ? '#777' : '#333';
    parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(r.y).toFixed(1)}" y2="${Y(r.y).toFixed(1)}" stroke="${color}" stroke-dasharray="2 3"/>`);
    legend(`${r.name} (${fmtNum(r.y)})`, color, true);
  });
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]) && (!spec.logY || p[1] > 0)).sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) return;
    parts.push(`<path d="${pts.map((p, k) => `${k ? 'L' : 'M'}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join('')}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`);
    for (const p of pts) parts.push(`<circle cx="${X(p[0]).toFixed(1)}" cy="${Y(p[1]).toFixed(1)}" r="3" fill="${color}"><title>${esc(s.name)}: x = ${fmtNum(p[0])}, y = ${fmtNum(p[1])}</title></circle>`);
    legend(s.name, color, !!s.dashed);
  });
  return svg(spec.title, parts.join(''));
}

export interface BarChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  bars: { label: string; value: number; color: string; note?: string }[];
  legend?: { name: string; color: string }[];
}

export function barChart(spec: BarChartSpec): string {
  if (spec.bars.length === 0) return emptyChart(spec.title);
  const vals = spec.bars.map((b) => b.value);
  let lo = Math.min(0, ...vals), hi = Math.max(0, ...vals);
  const pad = (hi - lo || 1) * 0.08;
  lo -= lo < 0 ? pad : 0;
  hi += pad;
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const Y = (y: number) => M.top + (1 - (y - lo) / (hi - lo)) * ph;
  const bw = pw / spec.bars.length;
  const parts: string[] = [frame(spec.title, spec.xLabel, spec.yLabel)];
  for (const t of niceTicks(lo, hi)) parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(t).toFixed(1)}" y2="${Y(t).toFixed(1)}" class="grid"/><text x="${M.left - 6}" y="${(Y(t) + 4).toFixed(1)}" text-anchor="end" class="tick">${fmtNum(t)}</text>`);
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" class="plot"/>`);
  spec.bars.forEach((b, i) => {
    const x = M.left + i * bw + bw * 0.15, y0 = Y(0), y1 = Y(b.value);
    parts.push(`<rect x="${x.toFixed(1)}" y="${Math.min(y0, y1).toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${Math.max(1, Math.abs(y1 - y0)).toFixed(1)}" fill="${b.color}"><title>${esc(b.label)}: ${fmtNum(b.value)}${b.note ? ` (${esc(b.note)})` : ''}</title></rect>`);
    parts.push(`<text x="${(x + bw * 0.35).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" class="tick">${esc(b.label)}</text>`);
  });
  parts.push(`<line x1="${M.left}" x2="${M.left + pw}" y1="${Y(0).toFixed(1)}" y2="${Y(0).toFixed(1)}" stroke="#333"/>`);
  (spec.legend ?? []).forEach((l, i) => parts.push(`<rect x="${W - M.right + 10}" y="${M.top + i * 16}" width="12" height="12" fill="${l.color}"/><text x="${W - M.right + 27}" y="${M.top + i * 16 + 10}" class="legend">${esc(l.name)}</text>`));
  return svg(spec.title, parts.join(''));
}

export interface HeatmapSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  xs: number[];
  ys: number[];
  /** value(x, y), or NaN for a missing cell. */
  value: (x: number, y: number) => number;
  /** Lower is better (perplexity): the best cells are drawn darkest. */
  lowerIsBetter: boolean;
  logScale?: boolean;
}

export function heatmap(spec: HeatmapSpec): string {
  const cells = spec.ys.flatMap((y) => spec.xs.map((x) => spec.value(x, y))).filter(Number.isFinite);
  if (cells.length === 0) return emptyChart(spec.title);
  const tf = (v: number) => (spec.logScale ? Math.log(Math.max(v, 1e-12)) : v);
  const lo = Math.min(...cells.map(tf)), hi = Math.max(...cells.map(tf));
  const pw = W - M.left - M.right, ph = H - M.top - M.bottom;
  const cw = pw / spec.xs.length, ch = ph / spec.ys.length;
  const parts: string[] = [frame(spec.title, spec.xLabel, spec.yLabel)];
  spec.ys.forEach((y, j) => {
    parts.push(`<text x="${M.left - 6}" y="${(M.top + (spec.ys.length - 1 - j + 0.5) * ch + 4).toFixed(1)}" text-anchor="end" class="tick">${fmtNum(y)}</text>`);
    spec.xs.forEach((x, i) => {
      const v = spec.value(x, y);
      const cx = M.left + i * cw, cy = M.top + (spec.ys.length - 1 - j) * ch;
      if (!Number.isFinite(v)) {
        parts.push(`<rect x="${cx.toFixed(1)}" y="${cy.toFixed(1)}" width="${cw.toFixed(1)}" height="${ch.toFixed(1)}" fill="#eee" stroke="#fff"/>`);
        return;
      }
      let t = hi > lo ? (tf(v) - lo) / (hi - lo) : 0.5; // 0 = lowest value
      if (!spec.lowerIsBetter) t = 1 - t; // t = 0: best
      const shade = Math.round(40 + 200 * t); // best darkest blue
      const fill = `rgb(${shade},${Math.round(90 + 150 * t)},${Math.round(180 + 70 * t)})`;
      parts.push(`<rect x="${cx.toFixed(1)}" y="${cy.toFixed(1)}" width="${cw.toFixed(1)}" height="${ch.toFixed(1)}" fill="${fill}" stroke="#fff"><title>${esc(spec.xLabel)} ${fmtNum(x)}, ${esc(spec.yLabel)} ${fmtNum(y)}: ${fmtNum(v)}</title></rect>`);
      parts.push(`<text x="${(cx + cw / 2).toFixed(1)}" y="${(cy + ch / 2 + 4).toFixed(1)}" text-anchor="middle" class="cell" fill="${t < 0.45 ? '#fff' : '#000'}">${fmtNum(v)}</text>`);
    });
  });
  spec.xs.forEach((x, i) => parts.push(`<text x="${(M.left + (i + 0.5) * cw).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle" class="tick">${fmtNum(x)}</text>`));
  return svg(spec.title, parts.join(''));
}

function frame(title: string, xLabel: string, yLabel: string): string {
  const ph = H - M.top - M.bottom;
  return `<text x="${W / 2 - 40}" y="20" text-anchor="middle" class="title">${esc(title)}</text>`
    + `<text x="${M.left + (W - M.left - M.right) / 2}" y="${H - 8}" text-anchor="middle" class="axis">${esc(xLabel)}</text>`
    + `<text x="14" y="${M.top + ph / 2}" text-anchor="middle" class="axis" transform="rotate(-90 14 ${M.top + ph / 2})">${esc(yLabel)}</text>`;
}

function svg(title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${esc(title)}">${body}</svg>`;
}

function emptyChart(title: string): string {
  return svg(title, `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" class="axis">${esc(title)}: no data</text>`);
}
