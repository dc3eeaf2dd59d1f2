// The conditions a working offsite-tuning setup meets (METHOD.md), checked on every method
// and task and written into results.json and the report, held or not. For ScaleOT with the
// default settings they are "required": on perplexity tasks Plug-in word perplexity below
// ZS, Emu FT at least privacyGapPct% above Plug-in (the privacy gap) and Plug-in within
// utilityPct% of FT (the utility); on accuracy tasks that fine-tuning moves (FT above ZS by
// learnableSe standard errors on validation: "a task must be learnable to rank methods"),
// Plug-in above ZS, at least accuracyPoints above Emu FT, and at most accuracyPoints below
// FT. Every other row is reported as measured. Cells repeated over seeds are judged on means.
import { acrossSeeds, meanSd, type ExperimentResults } from './results.js';

export interface ConditionResult {
  task: string;
  method: string;
  condition: string;
  /** The targets (ScaleOT, defaults, perplexity); the others are informative. */
  required: boolean;
  held: boolean;
  detail: string;
}

const pct = (a: number, b: number) => (100 * (a - b)) / b;
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(1)}%`;

/** FT above ZS on validation by at least `ses` standard errors (of the ZS accuracy). */
export function learnable(t: Pick<ExperimentResults['tasks'][number], 'kind' | 'zs' | 'ft'>, ses: number): boolean {
  if (t.kind !== 'mc') return true;
  const se = t.zs.validation.details.acc_stderr ?? 0;
  return t.ft.validation.value - t.zs.validation.value >= ses * se && se > 0;
}

export function checkConditions(r: Pick<ExperimentResults, 'tasks' | 'methods' | 'config'>): ConditionResult[] {
  const out: ConditionResult[] = [];
  const { privacyGapPct, utilityPct } = r.config.conditions;
  // Results written before these settings existed: the defaults.
  const points = r.config.conditions.accuracyPoints ?? 2, learnableSe = r.config.conditions.learnableSe ?? 3;
  for (const m of r.methods) {
    for (const t of r.tasks) {
      const s = m.tasks[t.name];
      if (!s) continue;
      const required = m.method === 'scaleot' && (t.kind === 'lm' || learnable(t, learnableSe));
      // Judged on means over the seeds when the cell was repeated (METHOD.md "Grids and seeds").
      const mean = (v: number[]) => meanSd(v).mean;
      const ftSplits = acrossSeeds({ validation: t.ft.validation, test: t.ft.test }, t.ft.seeds);
      const cells = acrossSeeds({ emuZS: s.emuZS, emuFT: s.emuFT, plugin: s.plugin }, s.seeds);
      const zs = t.zs.test.value, ft = mean(ftSplits.map((x) => x.test.value));
      const emuFT = mean(cells.map((c) => c.emuFT.test.value)), plug = mean(cells.map((c) => c.plugin.value));
      const over = cells.length > 1 ? ` (means over ${cells.length} seeds)` : '';
      if (t.kind === 'lm') {
        out.push({ task: t.name, method: m.method, condition: 'Plug-in perplexity below ZS', required, held: plug < zs, detail: `Plug-in ${plug.toFixed(1)} vs ZS ${zs.toFixed(1)} (${signed(pct(plug, zs))})${over}` });
        out.push({ task: t.name, method: m.method, condition: `privacy gap: Emu FT ≥ ${privacyGapPct}% above Plug-in`, required, held: emuFT >= plug * (1 + privacyGapPct / 100), detail: `Emu FT ${emuFT.toFixed(1)} vs Plug-in ${plug.toFixed(1)} (${signed(pct(emuFT, plug))})${over}` });
        out.push({ task: t.name, method: m.method, condition: `utility: Plug-in within ${utilityPct}% of FT`, required, held: plug <= ft * (1 + utilityPct / 100), detail: `Plug-in ${plug.toFixed(1)} vs FT ${ft.toFixed(1)} (${signed(pct(plug, ft))})${over}` });
      } else {
        const se = (x: { details: Record<string, number> }) => x.details.acc_stderr ?? 0;
        const pts = (x: number) => (100 * x).toFixed(1);
        out.push({ task: t.name, method: m.method, condition: 'Plug-in accuracy above ZS', required, held: plug > zs, detail: `Plug-in ${pts(plug)} ± ${pts(se(s.plugin))} vs ZS ${pts(zs)} ± ${pts(se(t.zs.test))}${over}` });
        out.push({ task: t.name, method: m.method, condition: `privacy gap: Plug-in ≥ Emu FT + ${points} points`, required, held: 100 * (plug - emuFT) >= points, detail: `Plug-in ${pts(plug)} vs Emu FT ${pts(emuFT)} (Δ ${pts(plug - emuFT)} points)${over}` });
        out.push({ task: t.name, method: m.method, condition: `utility: Plug-in ≥ FT − ${points} points`, required, held: 100 * (ft - plug) <= points, detail: `Plug-in ${pts(plug)} vs FT ${pts(ft)} (Δ ${pts(plug - ft)} points)${over}` });
      }
    }
  }
  return out;
}
