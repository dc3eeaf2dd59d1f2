// The experiment runner end to end on a tiny random GPT-2 with tiny task files: every
// method, every analysis, results.json and report.html written; a second run computes
// nothing (every stage comes from the cache) and gives the same numbers; the CLI's errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { parseExperimentConfig } from '../../src/experiment/config.js';
import { runExperiment } from '../../src/experiment/runner.js';
import { ExperimentResults } from '../../src/experiment/results.js';
import { writeExperimentOutputs } from '../../src/experiment/results.js';
import { defaultDataDir } from '../../src/data/build.js';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';
import { splitGuard } from '../../src/data/split_guard.js';
import { learnable } from '../../src/experiment/conditions.js';
import { buildTable1 } from '../../src/experiment/tables.js';
import { nextLrUp, nextLrDown } from '../../src/train/finetune.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const CLI = join(here, '..', '..', 'src', 'cli', 'main.js');
let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-runner-'));
  const model = new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 11);
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), model);
  const text = (k: number) => Array.from({ length: 40 }, (_, i) => `The ${['sky', 'sea', 'grass', 'snow'][(i + k) % 4]} is ${['blue', 'green', 'white', 'grey'][(i * 3 + k) % 4]} today.`).join(' ');
  for (const [s, k] of [['train', 0], ['validation', 1], ['test', 2]] as const) {
    writeFileSync(join(dir, `lm-${s}.txt`), text(k));
    writeFileSync(join(dir, 'public.jsonl'), [3, 4].map((k) => JSON.stringify({ text: text(k) })).join('\n') + '\n');
    writeFileSync(join(dir, `mc-${s}.jsonl`), Array.from({ length: 6 }, (_, i) => JSON.stringify({ context: `Item ${i + k}: the colour is`, choices: ['blue', 'green', 'red'], label: (i + k) % 3 })).join('\n') + '\n');
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

function config() {
  const files = (p: string, ext: string) => ({ train: `${p}-train.${ext}`, validation: `${p}-validation.${ext}`, test: `${p}-test.${ext}` });
  const raw = {
    name: 'tiny', model: 'model',
    tasks: [{ name: 'lm', files: files('lm', 'txt'), evalChars: 300 }, { name: 'mc', files: files('mc', 'jsonl'), evalLimit: 4 }],
    methods: ['scaleot', 'scaleot-no-src', 'dynamic-drop', 'ot', 'ot-distill', 'crash'],
    importance: { steps: 4, batchSize: 2, seqLen: 16, rank: 4 },
    distill: { batchSize: 2, seqLen: 16 },
    repeatSeeds: [5],
    finetune: { lrs: [1e-3], steps: 2, batchSize: 2, seqLen: 16 },
    analyses: {
      alphaBeta: { task: 'lm', alphas: [0.25], betas: [0.5, 1] },
      srcTargets: { task: 'lm', betas: [0.5], targets: ['ffn'] },
      numAdapters: { task: 'lm', values: [2, 4] },
      peft: { task: 'lm', methods: ['full', 'lora', 'adapter'] },
      audit: {
        tasks: ['lm'], methods: ['scaleot', 'ot', 'crash'], public: ['public.jsonl'], budgets: [0.01, 0.03], pretrainTokens: 6400,
        attack: { lr: 1e-3, batchSize: 2, seqLen: 16 }, evalLimit: 1, ownerWindows: 2,
      },
    },
    cacheDir: 'cache', outDir: 'out',
  };
  writeFileSync(join(dir, 'experiment.json'), JSON.stringify(raw));
  return parseExperimentConfig(raw, join(dir, 'experiment.json'));
}

test('every method and analysis runs, results and report are written, and a rerun is served from the cache', () => {
  const cfg = config();
  const opts = { root, resume: false, command: 'test', dataDir: defaultDataDir(root), log: () => {} };
  splitGuard.clear();
  const r1 = runExperiment(cfg, opts);
  assert.equal(r1.methods.length, 6);
  // Test is read once: no selection stage (lr searches, importance, CKA, distillation) opened
  // a test split, and test was read only by evaluation stages.
  const acc = splitGuard.accesses;
  const selection = acc.filter((a) => a.purpose === 'selection');
  assert.ok(selection.some((a) => a.stage === 'FT learning-rate search') && selection.some((a) => /learning-rate search on the emulator/.test(a.stage!)), 'the lr searches ran as selection stages');
  assert.deepEqual(selection.filter((a) => a.split === 'test'), []);
  const testStages = new Set(acc.filter((a) => a.split === 'test').map((a) => a.stage));
  assert.ok([...testStages].every((st) => st !== null && /test|Plug-in|describe/.test(st)), `test read by [${[...testStages]}]`);
  for (const st of ['ZS test', 'FT test', 'Emu ZS test', 'Emu FT test']) assert.ok(testStages.has(st), st);
  for (const m of r1.methods) {
    for (const t of ['lm', 'mc']) {
      const s = m.tasks[t];
      for (const v of [s.emuZS.test.value, s.emuFT.test.value, s.plugin.value]) assert.ok(Number.isFinite(v), `${m.method} ${t}`);
    }
    assert.ok(m.emulator.parameters.relative_size < 1, `${m.method} emulator is smaller than the model`);
  }
  // Equal size: every baseline removes round(α n) = 2 of 8 blocks.
  const removed = (roles: string[]) => roles.filter((x) => x === 'harmonized' || x === 'dropped' || x === 'shared').length;
  for (const m of r1.methods) assert.equal(removed(m.emulator.roles), 2, m.method);
  assert.equal(r1.analyses.alphaBeta!.points.length, 2);
  assert.equal(r1.analyses.srcTargets!.points.length, 1);
  assert.deepEqual(r1.analyses.numAdapters!.points.map((p) => p.settings.numAdapters), [2, 4]);
  assert.deepEqual(r1.analyses.peft!.rows.map((p) => p.tuneMethod), ['full', 'lora', 'adapter']);
  const [full, lora, adapter] = r1.analyses.peft!.rows.map((p) => p.trainable);
  assert.ok(lora < adapter && lora < full && adapter > 0, `trainable: full ${full}, lora ${lora}, adapter ${adapter}`);
  // Required: ScaleOT's three rows on the perplexity task, and on each accuracy task that fine-tuning moves.
  const learnableMc = r1.tasks.filter((t) => t.kind === 'mc' && learnable(t, 3)).length;
  assert.equal(r1.conditions.filter((c) => c.required).length, 3 + 3 * learnableMc);
  // Equal budgets: OT + distillation trains as many steps as ScaleOT's harmonizers (4 importance steps: 2 DL).
  const cost = (name: string) => r1.methods.find((m) => m.method === name)!.cost!;
  assert.equal(cost('ot-distill').gradientSteps, cost('scaleot').gradientSteps);
  assert.equal(cost('scaleot').gradientSteps, 2);
  assert.equal(cost('ot').gradientSteps, 0);
  assert.ok(cost('crash').forwardTokens > 0);
  // The repeat seed: every cell ran once more at its chosen lr.
  for (const m of r1.methods) for (const t of ['lm', 'mc']) assert.deepEqual(m.tasks[t].seeds?.map((x) => x.seed), [5], `${m.method} ${t}`);
  for (const t of r1.tasks) assert.deepEqual(t.ft.seeds?.map((x) => x.seed), [5]);
  // The privacy audit: every listed emulator, its recovery starting exactly at its Emu ZS-like state.
  const audit = r1.analyses.audit!;
  assert.deepEqual(audit.methods.map((m) => m.method), ['scaleot', 'ot', 'crash']);
  assert.deepEqual(audit.methods.map((m) => m.recovery.map((x) => x.init)), [['fresh', 'nearest'], ['fresh'], ['fresh']]);
  for (const m of audit.methods) assert.deepEqual(m.recovery[0].points.map((p) => p.steps), [0, 2, 6]);
  assert.ok(audit.methods.find((m) => m.method === 'ot')!.disclosure.verbatimFraction > audit.methods.find((m) => m.method === 'scaleot')!.disclosure.verbatimFraction);
  assert.deepEqual(audit.reference.map((x) => x.init), ['reference']);
  const paths = writeExperimentOutputs(r1, cfg.outDir);
  const saved = JSON.parse(readFileSync(paths.results, 'utf8')) as ExperimentResults;
  assert.equal(saved.format, 'scaleot-experiment/1');
  assert.match(readFileSync(paths.report, 'utf8'), /data-chart="fig4-plugin"/);
  assert.match(readFileSync(paths.report, 'utf8'), /data-chart="audit-recovery-public"[\s\S]*resists best/);

  const r2 = runExperiment(cfg, opts);
  assert.equal(r2.stages.computed, 0, 'a rerun computes nothing');
  assert.ok(r2.stages.cached > 20);
  assert.ok(r1.stages.recordedSeconds! > 0);
  assert.equal(r2.stages.recordedSeconds, r1.stages.recordedSeconds, 'a rerun reports what its stages took when computed, not its own seconds');
  assert.deepEqual(r2.methods, r1.methods);
  assert.deepEqual(r2.analyses, r1.analyses);

  // A run that outlives its machine: the cache is gone, the committed ledger (outDir/stages)
  // lacks the stages that had not finished (here: OT's plug-in scores). Only those are
  // computed, upstream artifacts are rebuilt on demand, and the table is the same.
  const ledger = join(cfg.outDir, 'stages');
  const unfinished = readdirSync(ledger).filter((f) => f.startsWith('plugin-') && /plug-in OT \(/.test(readFileSync(join(ledger, f), 'utf8')));
  assert.equal(unfinished.length, 4, 'OT\'s plug-in on the two tasks, seeds 0 and 5');
  for (const f of unfinished) rmSync(join(ledger, f));
  rmSync(cfg.cacheDir, { recursive: true, force: true });
  const r3 = runExperiment(cfg, opts);
  const rebuilt = r3.stages.rebuilt ?? -1;
  assert.equal(rebuilt, 5, 'OT\'s emulator (the same for both seeds) and its four tuning runs, whose adapters the plug-ins need');
  assert.equal(r3.stages.computed, 4 + rebuilt, 'the 4 unfinished stages and the rebuilt ones, nothing else');
  assert.deepEqual(r3.methods, r1.methods);
  assert.deepEqual(r3.analyses, r1.analyses);
});

/**
 * A cell searched `grid` on validation (perplexity) and, only while the largest lr tried won,
 * extended it upward one nextLrUp step at a time (METHOD.md); the chosen lr is the best of all.
 */
function assertGridExtendedUpward(cell: { bestLr: number; runs?: { lr: number; validation: number }[] }, grid: number[], what: string): void {
  const runs = cell.runs!;
  assert.deepEqual(runs.slice(0, grid.length).map((x) => x.lr), grid, `${what} searched the grid`);
  const best = (rs: typeof runs) => rs.reduce((a, b) => (b.validation < a.validation ? b : a));
  for (let i = grid.length; i < runs.length; i++) {
    assert.equal(runs[i].lr, nextLrUp(runs[i - 1].lr), `${what}: extension ${i - grid.length + 1} is the next lr up`);
    assert.equal(best(runs.slice(0, i)).lr, runs[i - 1].lr, `${what}: extended only while the largest lr tried was the best`);
  }
  // It stops at the first extension that does not improve, or after three.
  const extensions = runs.length - grid.length;
  if (extensions === 0) assert.notEqual(best(runs).lr, grid[grid.length - 1], `${what}: the grid's largest lr won, so it had to be extended`);
  else if (extensions < 3) assert.notEqual(best(runs).lr, runs[runs.length - 1].lr, `${what}: an extension that improved would have been followed by another`);
  assert.equal(cell.bestLr, best(runs).lr, `${what}: the chosen lr is the best on validation over grid and extensions`);
}

test('analyses.lr "main" and audit.tuneLr "main" / "main-then-lower": analysis points and tuning everything start at the lr the main cell chose (the latter then steps down); PEFT rows still search the grid', () => {
  const files = (p: string, ext: string) => ({ train: `${p}-train.${ext}`, validation: `${p}-validation.${ext}`, test: `${p}-test.${ext}` });
  const raw = {
    name: 'tiny-main-lr', model: 'model',
    tasks: [{ name: 'lm', files: files('lm', 'txt'), evalChars: 300 }],
    methods: ['scaleot'],
    importance: { steps: 4, batchSize: 2, seqLen: 16, rank: 4 },
    finetune: { lrs: [1e-4, 3e-3], steps: 2, batchSize: 2, seqLen: 16 },
    analyses: {
      lr: 'main', numAdapters: { task: 'lm', values: [2] }, peft: { task: 'lm', methods: ['lora'] },
      audit: { tasks: ['lm'], methods: ['scaleot'], public: ['public.jsonl'], budgets: [0.01], pretrainTokens: 6400, nearestFor: [], attack: { lr: 1e-3, batchSize: 2, seqLen: 16 }, evalLimit: 1, ownerWindows: 2, tuneLr: 'main' },
    },
    cacheDir: 'cache-main-lr', outDir: 'out-main-lr',
  };
  const cfg = parseExperimentConfig(raw, join(dir, 'experiment-main-lr.json'));
  const r = runExperiment(cfg, { root, resume: false, command: 'test', dataDir: defaultDataDir(root), log: () => {} });
  const chosen = r.methods[0].tasks.lm.bestLr;
  assertGridExtendedUpward(r.methods[0].tasks.lm, [1e-4, 3e-3], 'the main cell');
  assertGridExtendedUpward(r.tasks[0].ft, [1e-4, 3e-3], 'FT');
  assert.deepEqual(r.analyses.numAdapters!.points[0].runs!.map((x) => x.lr), [chosen], 'the N_a point tuned at the chosen lr only');
  assertGridExtendedUpward(r.analyses.peft!.rows[0], [1e-4, 3e-3], 'LoRA');
  assert.deepEqual(r.analyses.audit!.methods[0].tuneEverything.lm.runs.map((x) => x.lr), [chosen], 'the audit tuned everything at the chosen lr only');
  // "main-then-lower": the same first stage (cached, not recomputed), then one lr down at a time while the smallest wins.
  const lower = runExperiment(parseExperimentConfig({ ...raw, analyses: { ...raw.analyses, audit: { ...raw.analyses.audit, tuneLr: 'main-then-lower' } } }, join(dir, 'experiment-main-lr.json')),
    { root, resume: false, command: 'test', dataDir: defaultDataDir(root), log: () => {} });
  const te = lower.analyses.audit!.methods[0].tuneEverything.lm;
  assert.equal(te.runs[0].lr, chosen, 'it starts at the chosen lr');
  for (let i = 1; i < te.runs.length; i++) {
    assert.equal(te.runs[i].lr, nextLrDown(te.runs[i - 1].lr), `step ${i} is the next lr down`);
    assert.equal(Math.min(...te.runs.slice(0, i).map((x) => x.validation)), te.runs[i - 1].validation, 'extended only while the smallest lr tried was the best');
  }
  assert.ok(te.runs.length >= 2 && te.runs.length <= 3, 'at least one step down, at most two');
  assert.equal(te.bestLr, te.runs.reduce((a, b) => (b.validation < a.validation ? b : a)).lr, 'the best on validation is chosen');
  // The model itself, tuned everywhere: from FT's chosen lr, by the same rule.
  assert.deepEqual(r.analyses.audit!.modelTuneEverything!.lm.runs.map((x) => x.lr), [r.tasks[0].ft.bestLr], 'the model tuned everywhere at FT\'s lr');
  const mte = lower.analyses.audit!.modelTuneEverything!.lm;
  assert.equal(mte.runs[0].lr, r.tasks[0].ft.bestLr);
  for (let i = 1; i < mte.runs.length; i++) assert.equal(mte.runs[i].lr, nextLrDown(mte.runs[i - 1].lr));
  assert.equal(lower.stages.computed, te.runs.length - 1 + mte.runs.length - 1, 'only the steps down were computed');
  assert.throws(() => parseExperimentConfig({ ...raw, methods: ['ot'], analyses: { lr: 'main' } }, join(dir, 'x.json')), /field "analyses\.lr" must be "grid" \(or list "scaleot"/);
});

test('a task\'s methods narrow the offsite cells run on it; the full model still runs there and the tables show "—"', () => {
  const files = (p: string, ext: string) => ({ train: `${p}-train.${ext}`, validation: `${p}-validation.${ext}`, test: `${p}-test.${ext}` });
  const raw = {
    name: 'tiny-task-methods', model: 'model',
    tasks: [{ name: 'lm', files: files('lm', 'txt'), evalChars: 300 }, { name: 'mc', files: files('mc', 'jsonl'), evalLimit: 4, methods: ['scaleot'] }],
    methods: ['scaleot', 'ot'], repeatSeeds: [5],
    importance: { steps: 4, batchSize: 2, seqLen: 16, rank: 4 },
    finetune: { lrs: [1e-3], steps: 2, batchSize: 2, seqLen: 16 },
    analyses: {}, cacheDir: 'cache-task-methods', outDir: 'out-task-methods',
  };
  const r = runExperiment(parseExperimentConfig(raw, join(dir, 'experiment-task-methods.json')), { root, resume: false, command: 'test', dataDir: defaultDataDir(root), log: () => {} });
  const [scaleot, ot] = r.methods;
  assert.deepEqual([Object.keys(scaleot.tasks).sort(), Object.keys(ot.tasks)], [['lm', 'mc'], ['lm']]);
  assert.equal(scaleot.tasks.mc.seeds?.length, 1, 'the listed method repeats its cell with the other seed');
  assert.deepEqual(r.tasks.map((t) => t.name), ['lm', 'mc'], 'ZS and FT run on every task');
  assert.ok(!r.conditions.some((c) => c.method === 'ot' && c.task === 'mc'), 'no condition is judged on a cell that did not run');
  const table = buildTable1(r);
  const otPlugin = table.rows.find((x) => x.group.startsWith(ot.label) && x.kind === 'plugin')!;
  assert.deepEqual([otPlugin.cells[1].text, Number.isFinite(otPlugin.cells[0].value)], ['—', true]);
  assert.throws(() => parseExperimentConfig({ ...raw, tasks: [{ name: 'lm', files: files('lm', 'txt'), methods: ['crash'] }] }, join(dir, 'x.json')),
    /field "tasks\[0\]\.methods\[0\]" must be one of the configuration's methods \("scaleot", "ot"\), got "crash"/);
});

test('the experiment commands fail with one clear line', () => {
  for (const [args, re] of [
    [['experiment'], /--config is required/],
    [['experiment', '--config', join(dir, 'missing.json')], /missing\.json: no such configuration file/],
    [['report', join(dir, 'missing.json')], /missing\.json: no such file/],
    [['check-report', join(dir, 'missing.html')], /missing\.html: no such file|no Chromium found/],
  ] as const) {
    const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  }
  assert.ok(!existsSync(join(dir, 'missing.json')));
});
