// Measures a pre-trained base model for the base-model issue and writes
// docs/evidence/base-model-eval.json and docs/evidence/base-model-spectra.svg:
//   - the D^V loss curve of its training log;
//   - SOTU 2001-2021 test word / token perplexity and bits per byte (the whole split);
//   - per multiple-choice task: zero-shot and fine-tuned accuracy with standard errors
//     (all blocks, trunk frozen, lr chosen on validation, test scored once); fine-tuning
//     from randomly initialised blocks (how much pre-training matters; validation); Emu FT
//     with the default emulator (validation);
//   - emulator zero-shot with the defaults (N_a 4, α 0.25, β 0.8) with and without SRC vs
//     the model, on SOTU validation word perplexity;
//   - singular-value spectra of one attention and one FFN weight at initialisation and
//     after pre-training.
// Usage: node scripts/base-model-eval.mjs MODEL_DIR [--limit N] [--steps N] [--lrs a,b]
//        [--tasks t1,t2] [--importance-steps N] [--out DIR] [--continue] [--all-diagnostics]
//        [--diagnose t1,t2] [--evidence-prefix P]   (writes docs/evidence/P-eval.json and P-spectra.svg;
//                                 default base-model, the files of base-24)
// Selection is on validation only; the test split is read by the final scoring alone.
// The JSON is rewritten (atomically) after every section, cheapest first, so a run cut
// short still leaves its finished sections; --continue keeps the sections an earlier run
// of the same model and settings wrote and computes the rest.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import {
  loadModel, TextTokenizer, finetune, scoreTask, ensureData, defaultDataDir, estimateImportance, defaultImportanceConfig,
  createEmulator, loadEmulator, offsiteTune, DEFAULT_EMULATOR, saveCheckpoint,
} from '../dist/src/index.js';
import { loadTask } from '../dist/src/data/tasks.js';
import { jsonlTokenStream } from '../dist/src/data/streams.js';
import { GPT2LMHeadModel, gpt2ConfigFromHF } from '../dist/src/models/gpt2.js';
import { svd } from '../dist/src/linalg/svd.js';
import { lineChart } from '../dist/src/experiment/svg.js';
import { defaultCorpusLocations, pretrainingTexts } from '../dist/src/data/corpus.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const modelDir = args[0];
if (!modelDir || modelDir.startsWith('--')) throw new Error('usage: node scripts/base-model-eval.mjs MODEL_DIR [--limit N] [--steps N] [--lrs a,b] [--tasks t1,t2]');
const limit = Number(flag('--limit', 1000));
const steps = Number(flag('--steps', 300));
const lrs = flag('--lrs', '1e-4,3e-4,1e-3').split(',').map(Number);
const mcTasks = flag('--tasks', 'wordnet-def,wordnet-cloze,next-sentence,wordnet-hypernym,spam').split(',');
const work = flag('--out', join(root, 'runs', 'base-model-eval'));
const log = (s) => process.stderr.write(`${s}\n`);
mkdirSync(work, { recursive: true });
const dataDir = defaultDataDir(root);
const data = ensureData(dataDir);
const tok = TextTokenizer.fromDir(modelDir);
const model = loadModel(modelDir);
const splits = (name) => ({ train: loadTask(name, 'train', dataDir), validation: loadTask(name, 'validation', dataDir), test: loadTask(name, 'test', dataDir) });
const round = (v, d = 4) => Math.round(v * 10 ** d) / 10 ** d;
const acc = (s) => ({ acc: round(s.value), stderr: round(s.details.acc_stderr ?? NaN), n: s.details.n ?? null });
const evidence = join(root, 'docs', 'evidence');
const prefix = flag('--evidence-prefix', 'base-model');
const jsonPath = join(evidence, `${prefix}-eval.json`);
let out = { model: relative(root, modelDir), limit, steps, lrs, commands: [`node scripts/base-model-eval.mjs ${args.map((a) => (isAbsolute(a) ? relative(root, a) : a)).join(' ')}`] }; // no machine paths in the evidence
if (args.includes('--continue') && existsSync(jsonPath)) {
  const prev = JSON.parse(readFileSync(jsonPath, 'utf8'));
  const same = ['model', 'limit', 'steps'].every((k) => prev[k] === out[k]) && JSON.stringify(prev.lrs) === JSON.stringify(lrs);
  if (!same) throw new Error(`${jsonPath} was written for other settings (model ${prev.model}, limit ${prev.limit}, steps ${prev.steps}, lrs ${prev.lrs}); run without --continue`);
  out = { ...prev, commands: [...new Set([...(prev.commands ?? []), ...out.commands])] };
}
mkdirSync(evidence, { recursive: true });
/** Writes what is measured so far (temporary name, then rename). */
const save = () => {
  writeFileSync(`${jsonPath}.tmp`, JSON.stringify(out, null, 1) + '\n');
  renameSync(`${jsonPath}.tmp`, jsonPath);
};

// The D^V loss curve.
try {
  out.validation_curve = readFileSync(join(modelDir, 'training_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    .filter((e) => e.val_loss !== undefined).map((e) => ({ step: e.step, val_loss: round(e.val_loss), seconds: Math.round(e.seconds) }));
} catch {
  out.validation_curve = null;
}

save();

// SOTU 2001-2021 test: the whole split, read once here.
if (!out.sotu_test) {
  log('SOTU test perplexity');
  const sotuTest = scoreTask(model, tok, loadTask('sotu', 'test', dataDir));
  out.sotu_test = { word_perplexity: round(sotuTest.details.word_perplexity, 2), token_perplexity: round(sotuTest.details.token_perplexity, 2), bits_per_byte: round(sotuTest.details.bits_per_byte) };
  save();
}

// Singular-value spectra: one attention and one FFN weight of a middle block, at init and trained.
const init = new GPT2LMHeadModel(gpt2ConfigFromHF(model.hfConfig), 0);
const mid = Math.floor(model.blocks.length / 2);
const spectrum = (m, path) => {
  const lin = path.split('.').reduce((o, k) => o[k], m.blocks.at(mid));
  const [a, b] = lin.weight.shape;
  return Array.from(svd(lin.weight.data, a, b).S);
};
const series = [];
out.spectra = {};
for (const path of ['attn.c_attn', 'mlp.c_fc']) {
  for (const [label, m] of [['initialised', init], ['pre-trained', model]]) {
    const s = spectrum(m, path);
    out.spectra[`${path} ${label}`] = s.map((v) => round(v, 4));
    series.push({ name: `${path}, ${label}`, points: s.map((v, i) => [i + 1, v]), dashed: label === 'initialised' });
  }
}
const chart = lineChart({ title: `Singular values of block ${mid}'s weights`, xLabel: 'index', yLabel: 'singular value', series, logY: true })
  // A standalone file: the report page's chart styles go inside the SVG.
  .replace(/^(<svg[^>]*>)/, '$1<style>.grid{stroke:#e6e6e6}.plot{fill:none;stroke:#999}.tick{font-size:11px;fill:#444}.axis{font-size:12px;fill:#222}.title{font-size:13px;font-weight:600;fill:#111}.legend{font-size:11px;fill:#222}</style>');
writeFileSync(join(evidence, `${prefix}-spectra.svg`), chart + '\n');
save();

/** A copy of the model with every block re-initialised (the trunk kept): how much pre-training matters. */
function randomBlocksCopy(dir) {
  const fresh = new GPT2LMHeadModel(gpt2ConfigFromHF(model.hfConfig), 1234);
  const trained = new Map(model.namedParameters());
  for (const [name, p] of fresh.namedParameters()) if (!name.startsWith('transformer.h.')) p.data.set(trained.get(name).data);
  saveCheckpoint(dir, model.hfConfig, fresh.hfTensors());
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) writeFileSync(join(dir, f), readFileSync(join(modelDir, f)));
  return dir;
}

// The default emulator (importance on the model's own D^T / D^V), with and without SRC;
// built even when its scores are known, since Emu FT below tunes it.
log('importance and the default emulators');
// The model's own pre-training distribution (the corpus variant its pretraining.json names).
const own = pretrainingTexts(modelDir, defaultCorpusLocations(root), data);
const stream = (f) => jsonlTokenStream(tok, own[f.replace('.jsonl', '')].path, tok.prefixTokenId, 'before');
const impCfg = { ...defaultImportanceConfig(model.spec.hiddenSize), steps: Number(flag('--importance-steps', 400)) };
estimateImportance(loadModel(modelDir), model.spec.hiddenSize, stream('dt.jsonl'), stream('dv.jsonl'), impCfg, join(work, 'importance'), { resume: true });
// An emulator directory appears whole (written under a temporary name), so one that exists is done.
if (!existsSync(join(work, 'emu', 'manifest.json'))) createEmulator(modelDir, join(work, 'importance'), DEFAULT_EMULATOR, join(work, 'emu'));
if (!existsSync(join(work, 'emu-no-src', 'manifest.json'))) createEmulator(modelDir, join(work, 'importance'), { ...DEFAULT_EMULATOR, noSrc: true }, join(work, 'emu-no-src'));
if (!out.emulator_zero_shot_sotu_validation) {
  const sotuVal = loadTask('sotu', 'validation', dataDir);
  const zsVal = scoreTask(model, tok, sotuVal).value;
  const emuVal = scoreTask(loadEmulator(join(work, 'emu')).model, tok, sotuVal).value;
  const emuNoSrcVal = scoreTask(loadEmulator(join(work, 'emu-no-src')).model, tok, sotuVal).value;
  out.emulator_zero_shot_sotu_validation = {
    model: round(zsVal, 1), emulator: round(emuVal, 1), emulator_without_src: round(emuNoSrcVal, 1),
    emulator_vs_model_pct: round((100 * (emuVal - zsVal)) / zsVal, 2), without_src_vs_model_pct: round((100 * (emuNoSrcVal - zsVal)) / zsVal, 2),
  };
  save();
}

// Multiple-choice tasks, in two passes so that the criterion comes first: ZS and FT on every
// task (selected on validation, test once), then FT from random blocks and Emu FT
// (validation) on each. finetune() keeps every finished lr run, so a cut-short pass resumes.
const random = randomBlocksCopy(join(work, 'random-blocks'));
const opts = { lrs, steps, batchSize: 16, evalLimit: limit, checkpointEvery: 100, log };
out.tasks ??= {};
for (const name of mcTasks) {
  if (out.tasks[name]) continue;
  log(`task ${name}: ZS and FT`);
  const t = splits(name);
  const ft = finetune(modelDir, t, join(work, `ft-${name}`), opts);
  const majority = Math.max(...[0, 1, 2, 3].map((k) => t.validation.items.slice(0, limit).filter((it) => it.label === k).length)) / Math.min(limit, t.validation.items.length);
  out.tasks[name] = {
    validation: {
      zero_shot: acc(ft.zeroShot.validation), fine_tuned: acc(ft.validation), majority_class: round(majority),
      ft_minus_zs_in_stderr: round((ft.validation.value - ft.zeroShot.validation.value) / Math.hypot(ft.validation.details.acc_stderr, ft.zeroShot.validation.details.acc_stderr), 2),
    },
    test: { zero_shot: acc(ft.zeroShot.test), fine_tuned: acc(ft.test) },
    best_lr: ft.bestLr,
    lr_runs: ft.runs.map((r) => ({ lr: r.lr, validation: acc(r.validation) })),
  };
  save();
}
// The diagnostics are for the tasks that meet the criterion (the ones experiments will use);
// --all-diagnostics runs them on every task, --diagnose t1,t2 on these tasks as well.
const alsoDiagnosed = flag('--diagnose', '').split(',').filter(Boolean);
for (const name of alsoDiagnosed) if (!mcTasks.includes(name)) throw new Error(`--diagnose ${name}: not one of the tasks measured (${mcTasks.join(', ')})`);
const diagnosed = mcTasks.filter((n) => args.includes('--all-diagnostics') || alsoDiagnosed.includes(n) || out.tasks[n].validation.ft_minus_zs_in_stderr >= 5);
for (const name of diagnosed) {
  const v = out.tasks[name].validation;
  if (v.fine_tuned_from_random_blocks && v.emu_ft_default_emulator) continue;
  log(`task ${name}: FT from random blocks and Emu FT`);
  const t = splits(name);
  v.fine_tuned_from_random_blocks = acc(finetune(random, t, join(work, `ft-random-${name}`), opts).validation);
  save();
  v.emu_ft_default_emulator = acc(offsiteTune(join(work, 'emu'), t, join(work, `tune-${name}`), { ...opts, method: 'full' }).emuFinetuned.validation);
  save();
}
rmSync(random, { recursive: true, force: true });

save();
console.log(JSON.stringify({ sotu_test: out.sotu_test, emulator: out.emulator_zero_shot_sotu_validation, tasks: Object.fromEntries(Object.entries(out.tasks).map(([k, v]) => [k, v.validation.ft_minus_zs_in_stderr])) }));
