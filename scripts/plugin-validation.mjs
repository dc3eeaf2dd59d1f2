// The privacy gap on validation: for every main-table offsite-tuning cell of an experiment on
// a perplexity task, Plug-in scored on the task's *validation* split beside the Emu ZS and
// Emu FT validation scores its tune stage recorded, and the model's own ZS on validation.
// The experiment scores Plug-in on test only (the protocol's final stage); this script is
// the validation evidence for why a claim misses, and selects nothing.
// Needs the experiment's stage cache (the tuned adapters) on this machine.
// Usage (repository root, after a build):
//   node scripts/plugin-validation.mjs [CONFIG] [--task sotu] [--out docs/evidence/FILE.json]
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { loadModel, TextTokenizer, scoreTask, ensureData, defaultDataDir, plugIn, readExperimentConfig } from '../dist/src/index.js';
import { loadTaskSpec } from '../dist/src/experiment/tasks.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const configFile = args[0] && !args[0].startsWith('--') ? args[0] : 'configs/experiment-base24.json';
const taskName = flag('--task', 'sotu');
const out = flag('--out', 'docs/evidence/base24-plugin-validation.json');
const METHOD_LABELS = ['ScaleOT', 'ScaleOT w/o SRC', 'Dynamic LayerDrop', 'OT (uniform LayerDrop)', 'OT + distillation', 'CRaSh'];

const cfg = readExperimentConfig(configFile);
const spec = cfg.tasks.find((t) => t.name === taskName);
if (!spec) throw new Error(`${configFile}: tasks has no "${taskName}"`);
const task = loadTaskSpec(spec, defaultDataDir(root), ensureData(defaultDataDir(root), () => {}));
if (task.splits.validation.kind !== 'lm') throw new Error(`${taskName} is not a perplexity task`);
const tok = TextTokenizer.fromDir(cfg.model);
const ledgerDir = join(cfg.outDir, 'stages');

const result = { config: relative(root, configFile.startsWith('/') ? configFile : join(process.cwd(), configFile)), task: taskName, split: 'validation', metric: null, model: null, cells: [] };
const save = () => {
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(`${out}.tmp`, JSON.stringify(result, null, 2) + '\n');
  renameSync(`${out}.tmp`, out);
};
// The model's ZS and FT on validation, as the experiment's fine-tuning stages recorded them.
result.model = { ft: {} };
for (const file of readdirSync(ledgerDir).filter((f) => f.startsWith('finetune-'))) {
  const record = JSON.parse(readFileSync(join(ledgerDir, file), 'utf8'));
  const m = new RegExp(`^FT ${taskName} \\(seed (\\d+)\\)$`).exec(record.label);
  if (!m) continue;
  result.metric = record.value.zs.validation.metric;
  result.model.zs = record.value.zs.validation.value;
  result.model.ft[m[1]] = { lr: record.value.ft.bestLr, value: record.value.ft.validation.value };
}
if (result.model.zs === undefined) throw new Error(`${ledgerDir}: no "FT ${taskName} (seed N)" stage`);
console.log(`model on ${taskName} validation: ZS ${result.model.zs.toFixed(1)}, FT ${Object.values(result.model.ft).map((x) => x.value.toFixed(1)).join(' / ')}`);

const pattern = new RegExp(`^tune (.+?)(?: seed (\\d+))? on ${taskName}$`);
for (const file of readdirSync(ledgerDir).filter((f) => f.startsWith('tune-')).sort()) {
  const record = JSON.parse(readFileSync(join(ledgerDir, file), 'utf8'));
  const m = pattern.exec(record.label);
  if (!m || !METHOD_LABELS.includes(m[1])) continue; // analyses' points carry their settings in the label
  const adapter = join(cfg.cacheDir, file.replace(/\.json$/, ''), 'run', 'adapter');
  if (!existsSync(adapter)) {
    console.log(`${record.label}: no adapter in the stage cache; skipped`);
    continue;
  }
  const plugged = join(cfg.cacheDir, `plugin-validation-${process.pid}`);
  plugIn(cfg.model, adapter, plugged);
  const score = scoreTask(loadModel(plugged), tok, task.splits.validation);
  rmSync(plugged, { recursive: true, force: true });
  const v = record.value;
  const cell = {
    method: m[1], seed: m[2] ? Number(m[2]) : 0, lr: v.bestLr,
    emuZS: v.emuZS.validation.value, emuFT: v.emuFT.validation.value, plugin: score.value,
    // The paper's privacy gap: how far Emu FT stays above Plug-in (perplexity: higher is worse).
    gapPct: 100 * (v.emuFT.validation.value / score.value - 1),
  };
  result.cells.push(cell);
  save();
  console.log(`${cell.method} seed ${cell.seed}: Emu ZS ${cell.emuZS.toFixed(1)}, Emu FT ${cell.emuFT.toFixed(1)}, Plug-in ${cell.plugin.toFixed(1)} (gap ${cell.gapPct.toFixed(1)}%)`);
}
save();
