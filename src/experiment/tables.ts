// The paper's Table 1 layout as data, shared by the terminal table and report.html:
// rows = the full model's ZS and FT, then per method Emu ZS ↓, Emu FT ↓, Plug-in ↑ and Δ;
// columns = tasks, then the average over the accuracy tasks. The best Plug-in per column is
// bold and the second best underlined (the paper's convention).
import type { Score } from '../train/finetune.js';
import { acrossSeeds, meanSd, type ExperimentResults } from './results.js';

export interface Cell {
  text: string;
  /** Standard error, or the standard deviation over seeds when `overSeeds` is set, as text ('' when there is none). */
  se: string;
  /** The number of seeds the value is a mean over (absent: one run). */
  overSeeds?: number;
  rank?: 1 | 2;
  value: number;
}

export interface Row {
  group: string;
  setting: string;
  cells: Cell[];
  kind: 'full' | 'emu' | 'plugin' | 'delta';
}

export interface Table1 {
  columns: string[];
  rows: Row[];
}

const isAcc = (s: Score) => s.metric === 'acc';
function cellOf(s: Score | undefined): Cell {
  if (!s) return { text: '—', se: '', value: NaN };
  if (isAcc(s)) return { text: (100 * s.value).toFixed(1), se: s.details.acc_stderr !== undefined ? (100 * s.details.acc_stderr).toFixed(1) : '', value: 100 * s.value };
  return { text: s.value.toFixed(1), se: '', value: s.value };
}

/** One run's cell, or the mean ± standard deviation over a cell's seeds. */
function cellOfSeeds(scores: (Score | undefined)[]): Cell {
  const present = scores.filter((x): x is Score => x !== undefined);
  if (present.length <= 1) return cellOf(present[0]);
  const scale = isAcc(present[0]) ? 100 : 1;
  const { mean, sd, n } = meanSd(present.map((x) => scale * x.value));
  return { text: mean.toFixed(1), se: sd.toFixed(1), value: mean, overSeeds: n };
}

export function buildTable1(r: ExperimentResults): Table1 {
  const accTasks = r.tasks.filter((t) => t.kind === 'mc');
  const columns = [...r.tasks.map((t) => `${t.name} (${t.kind === 'mc' ? 'acc % ↑' : 'word ppl ↓'})`), ...(accTasks.length ? ['Avg. acc'] : [])];
  const avg = (cells: Cell[]): Cell[] => {
    if (!accTasks.length) return [];
    const v = r.tasks.map((t, i) => (t.kind === 'mc' ? cells[i].value : NaN)).filter((x) => !Number.isNaN(x));
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    return [{ text: v.length === accTasks.length ? m.toFixed(1) : '—', se: '', value: v.length === accTasks.length ? m : NaN }];
  };
  const rows: Row[] = [];
  const fullRow = (setting: string, pick: (t: ExperimentResults['tasks'][number]) => Score): Row => {
    const cells = r.tasks.map((t) => cellOf(pick(t)));
    return { group: 'Full model', setting, cells: [...cells, ...avg(cells)], kind: 'full' };
  };
  rows.push(fullRow('Zero-shot (ZS)', (t) => t.zs.test));
  const ftCells = r.tasks.map((t) => cellOfSeeds(acrossSeeds({ validation: t.ft.validation, test: t.ft.test }, t.ft.seeds).map((x) => x.test)));
  rows.push({ group: 'Full model', setting: 'Fine-tuning (FT)', cells: [...ftCells, ...avg(ftCells)], kind: 'full' });
  for (const m of r.methods) {
    const group = `${m.label} (${(100 * m.emulator.parameters.relative_size).toFixed(1)}% size)`;
    type Scores = { emuZS: { test: Score }; emuFT: { test: Score }; plugin: Score };
    const mk = (setting: string, kind: Row['kind'], pick: (s: Scores) => Score): Row => {
      const cells = r.tasks.map((t) => {
        const c = m.tasks[t.name];
        return c ? cellOfSeeds(acrossSeeds<Scores>(c, c.seeds).map(pick)) : cellOf(undefined);
      });
      return { group, setting, cells: [...cells, ...avg(cells)], kind };
    };
    const emuFT = mk('Emulator FT ↓', 'emu', (s) => s.emuFT.test), plug = mk('Plug-in ↑', 'plugin', (s) => s.plugin);
    // Δ: Plug-in − Emu FT for accuracy, Emu FT − Plug-in for perplexity (METHOD.md): positive = a privacy gap.
    const delta = r.tasks.map((t, i): Cell => {
      const a = emuFT.cells[i].value, b = plug.cells[i].value;
      const d = t.kind === 'mc' ? b - a : a - b;
      return { text: Number.isFinite(d) ? d.toFixed(1) : '—', se: '', value: d };
    });
    rows.push(mk('Emulator ZS ↓', 'emu', (s) => s.emuZS.test), emuFT, plug, { group, setting: 'Δ', cells: [...delta, ...avg(delta)], kind: 'delta' });
  }
  // Rank the Plug-in rows per column.
  const plugins = rows.filter((x) => x.kind === 'plugin');
  columns.forEach((_, c) => {
    const lowerBetter = c < r.tasks.length && r.tasks[c].kind === 'lm';
    // Equal values share a rank; "second best" only means something with three or more rows.
    const values = [...new Set(plugins.map((p) => p.cells[c].value).filter(Number.isFinite))].sort((a, b) => (lowerBetter ? a - b : b - a));
    for (const p of plugins) {
      if (p.cells[c].value === values[0]) p.cells[c].rank = 1;
      else if (plugins.length > 2 && p.cells[c].value === values[1]) p.cells[c].rank = 2;
    }
  });
  return { columns, rows };
}

/** The table as fixed-width text for the terminal (**best**, _second_). */
export function table1Text(t: Table1): string {
  const cellText = (c: Cell) => `${c.rank === 1 ? '*' : c.rank === 2 ? '_' : ' '}${c.text}${c.se ? ` ±${c.se}` : ''}${c.overSeeds ? ` (${c.overSeeds})` : ''}`;
  const head = ['Method', 'Setting', ...t.columns];
  const body = t.rows.map((r, i) => [i > 0 && t.rows[i - 1].group === r.group ? '' : r.group, r.setting, ...r.cells.map(cellText)]);
  const widths = head.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const line = (cols: string[]) => cols.map((x, c) => (c < 2 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  body.forEach((b, i) => {
    if (i > 0 && b[0] !== '') out.push('');
    out.push(line(b));
  });
  const seeds = t.rows.some((r) => r.cells.some((c) => c.overSeeds));
  out.push('', `* best Plug-in per column, _ second best; ± standard error${seeds ? ', or "mean ±sd (n seeds)"' : ''}; Δ = Plug-in − Emu FT (acc) or Emu FT − Plug-in (ppl)`);
  return out.join('\n');
}
