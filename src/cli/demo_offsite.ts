// `scaleot demo`: the offsite-tuning workflow end to end on the shipped base model, small
// enough for a few minutes on two cores: build the data, score the base model (ZS),
// fine-tune it (FT), estimate block importance, build the ScaleOT emulator, tune its
// adapters as the data owner would (Emu ZS / Emu FT), plug them back (Plug-in), and print
// the five settings side by side. Budgets are reduced versions of the defaults; the
// experiment runner with the full configuration is still to come (issue 7).
import { existsSync, mkdirSync } from 'node:fs';
import { jsonlTokenStream } from '../data/streams.js';
import { join } from 'node:path';
import { defaultDataDir, ensureData } from '../data/build.js';
import { loadTask } from '../data/tasks.js';
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { scoreTask, finetune, Score } from '../train/finetune.js';
import { estimateImportance, defaultImportanceConfig } from '../offsite/scaleot/importance.js';
import { createEmulator, DEFAULT_EMULATOR } from '../offsite/emulator.js';
import { offsiteTune } from '../offsite/tune.js';
import { plugIn } from '../offsite/plugin.js';
import { hiddenSize } from '../peft/count.js';

export function runOffsiteDemo(root: string, log: (s: string) => void = (s) => process.stderr.write(s + '\n')): Record<string, Score> {
  const t0 = Date.now();
  const step = (s: string) => log(`[demo ${Math.round((Date.now() - t0) / 1000)}s] ${s}`);
  const modelDir = join(root, 'models', 'scaleot-base-16');
  if (!existsSync(join(modelDir, 'model.safetensors'))) throw new Error(`${modelDir}: the shipped base model is missing`);
  const out = join(root, 'runs', 'demo');
  mkdirSync(out, { recursive: true });
  step('building / verifying the offline datasets');
  const dataDir = defaultDataDir(root);
  ensureData(dataDir, step);
  const task = 'wordnet-def';
  const limit = 400;
  const tasks = { train: loadTask(task, 'train', dataDir), validation: loadTask(task, 'validation', dataDir), test: loadTask(task, 'test', dataDir) };
  const tok = TextTokenizer.fromDir(modelDir);
  const results: Record<string, Score> = {};

  step(`ZS: the full model on ${task} (first ${limit} test items)`);
  results.ZS = scoreTask(loadModel(modelDir), tok, tasks.test, limit);

  step('FT: fine-tuning all blocks (trunk frozen), 200 steps');
  const ft = finetune(modelDir, tasks, join(out, 'ft'), { lrs: [1e-3], steps: 200, batchSize: 16, evalLimit: limit, log: step });
  results.FT = ft.test;

  step('model owner: Dynamic LayerReplace importance, 200 steps on D^T / D^V');
  const model = loadModel(modelDir);
  const streamOf = (f: string) => jsonlTokenStream(tok, join(dataDir, 'pretrain', f), tok.prefixTokenId, 'before');
  const hidden = hiddenSize(model.architecture, model.hfConfig);
  const imp = estimateImportance(model, hidden, streamOf('dt.jsonl'), streamOf('dv.jsonl'), { ...defaultImportanceConfig(hidden), steps: 200 }, join(out, 'importance'), { log: () => {} });
  step(`importance scores: ${imp.scores.map((s) => s.toFixed(2)).join(' ')}`);

  step('model owner: ScaleOT emulator (N_a = 4, α = 0.25, β = 0.8)');
  const emu = createEmulator(modelDir, join(out, 'importance'), DEFAULT_EMULATOR, join(out, 'emulator'));
  step(`emulator: adapters [${emu.plan.adapters}], harmonized [${emu.plan.harmonized}], SRC [${emu.plan.compressed}]; ${(100 * emu.parameters.relative_size).toFixed(1)}% of the parameters`);

  step('data owner: tuning the adapter blocks on the emulator, 200 steps');
  const tuned = offsiteTune(join(out, 'emulator'), tasks, join(out, 'tune'), { method: 'full', lrs: [1e-3], steps: 200, batchSize: 16, evalLimit: limit, log: step });
  results['Emu ZS'] = tuned.emuZeroShot.test;
  results['Emu FT'] = tuned.emuFinetuned.test;

  step('model owner: plug-in');
  plugIn(modelDir, tuned.adapterDir, join(out, 'plugged'));
  results['Plug-in'] = scoreTask(loadModel(join(out, 'plugged')), tok, tasks.test, limit);

  const pct = (s: Score) => `${(100 * s.value).toFixed(1)} ± ${(100 * (s.details.acc_stderr ?? 0)).toFixed(1)}`;
  console.log(`\nScaleOT on ${task} (test, n = ${limit}, chance 25%), accuracy %:`);
  console.log(['ZS', 'FT', 'Emu ZS', 'Emu FT', 'Plug-in'].map((k) => k.padEnd(9)).join('') + 'Δ (Plug-in − Emu FT)');
  console.log(['ZS', 'FT', 'Emu ZS', 'Emu FT', 'Plug-in'].map((k) => (100 * results[k].value).toFixed(1).padEnd(9)).join('') + (100 * (results['Plug-in'].value - results['Emu FT'].value)).toFixed(1));
  console.log(Object.entries(results).map(([k, s]) => `${k}: ${pct(s)}`).join('; '));
  console.log(`\nwritten under ${out}; ${Math.round((Date.now() - t0) / 1000)} s`);
  return results;
}
