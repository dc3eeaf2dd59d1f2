// The privacy audit on a tiny GPT-2: disclosure counted by hand; the attacker's model built
// from the package alone starts exactly at the emulator (budget 0 = Emu ZS, bit for bit),
// can hold the source model exactly (original weights put back reproduce its logits), trains
// without the source model on disk, and resumes its recovery curve exactly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { loadModel } from '../../src/models/load.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';
import { svd } from '../../src/linalg/svd.js';
import { estimateImportance, defaultImportanceConfig, loadImportance } from '../../src/offsite/scaleot/importance.js';
import { buildEmulator, buildBaselineEmulator, instantiateEmulator, DEFAULT_EMULATOR, type Emulator } from '../../src/offsite/emulator.js';
import { writeEmulatorPackage, readEmulatorPackage } from '../../src/offsite/emulator_package.js';
import { uniformDropPlan } from '../../src/offsite/baselines/uniform_drop.js';
import { crashPlanFromCka } from '../../src/offsite/baselines/crash.js';
import { disclosure } from '../../src/audit/disclosure.js';
import { attackModel, restoreOriginal } from '../../src/audit/attacker.js';
import { recoveryCurve, trunkOnlyModel } from '../../src/audit/recovery.js';
import type { CausalLM } from '../../src/models/causal_lm.js';
import { copyGpt2TokenizerFiles, writeCheckpointWithGpt2Tokenizer } from '../helpers.js';
import { runAudit } from '../../src/audit/audit.js';
import { guardedSplits, splitGuard } from '../../src/data/split_guard.js';
import type { Task } from '../../src/data/tasks.js';

const CFG = { vocabSize: 40, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 };
let dir = '';
let text: Int32Array;
const emulators: Record<string, Emulator> = {};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-audit-'));
  const model = new GPT2LMHeadModel(CFG, 21);
  saveCheckpoint(join(dir, 'model'), model.hfConfig, model.hfTensors());
  const rng = new Rng(5);
  text = Int32Array.from({ length: 4000 }, (_, i) => (i % 5 === 0 ? rng.int(40) : (i * 7) % 40));
  estimateImportance(loadModel(join(dir, 'model')), 16, text, text, { ...defaultImportanceConfig(16), rank: 4, steps: 6, batchSize: 2, seqLen: 16 }, join(dir, 'imp'));
  const imp = loadImportance(join(dir, 'imp'), 16);
  const importance = { scores: imp.scores, bank: imp.bank, rank: imp.config.rank };
  emulators.scaleot = buildEmulator(loadModel(join(dir, 'model')), importance, DEFAULT_EMULATOR);
  emulators.ot = buildBaselineEmulator(loadModel(join(dir, 'model')), 'uniform-drop', uniformDropPlan(8, 2));
  const cka = Array.from({ length: 8 }, (_, i) => Array.from({ length: 8 }, (_, j) => (i === j ? 1 : Math.abs(i - j) === 1 && i < 5 ? 0.9 : 0.1)));
  emulators.crash = buildBaselineEmulator(loadModel(join(dir, 'model')), 'crash', crashPlanFromCka(8, 2, cka));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const logits = (m: CausalLM) => noGrad(() => m.forward(text.subarray(0, 24), 2, 12)).data;

test('disclosure: verbatim parameters and shipped spectral energy, counted by hand', () => {
  const model = loadModel(join(dir, 'model'));
  // GPT-2 block at C = 16: ln_1 32, c_attn 16*48+48, attn c_proj 16*16+16, ln_2 32, c_fc 16*64+64, mlp c_proj 64*16+16.
  const block = 32 + 816 + 272 + 32 + 1088 + 1040, trunk = 40 * 16 + 32 * 16 + 32;
  const ot = disclosure(model, emulators.ot);
  assert.equal(ot.parameters, trunk + 8 * block);
  assert.equal(ot.verbatim, trunk + 6 * block, 'OT: everything but the two dropped blocks');
  assert.equal(ot.energyShipped, null);
  const d = disclosure(model, emulators.scaleot);
  const roles = emulators.scaleot.description.plan.roles;
  for (const b of d.blocks) {
    const expected = roles[b.block] === 'adapter' ? block : roles[b.block] === 'harmonized' ? 0 : block - 16 * 48 - 16 * 16; // SRC: both attention weights withheld, their biases shipped
    assert.equal(b.verbatim, expected, `block ${b.block} (${roles[b.block]})`);
  }
  assert.equal(d.trunk.verbatim, trunk);
  // Spectral energy from an independent SVD of the original weight: Σ_{k<r} σ² / Σ σ².
  const src = d.blocks.find((b) => b.spectral)!;
  const w = model.blocks.at(src.block).namedParameters().find(([n]) => n === 'attn.c_attn.weight')![1];
  const s = svd(Float64Array.from(w.data), 16, 48).S;
  const all = s.reduce((a, x) => a + x * x, 0);
  const rank = src.spectral![0].rank;
  const kept = s.slice(0, rank).reduce((a, x) => a + x * x, 0);
  assert.equal(rank, 3, 'r = round(0.2 * 16)');
  assert.ok(Math.abs(src.spectral![0].energyShipped - kept / all) < 1e-9, `${src.spectral![0].energyShipped} vs ${kept / all}`);
  assert.ok(d.energyShipped! > 0 && d.energyShipped! < 1);
});

test('the attacker starts exactly at the emulator and can hold the model exactly, for every emulator kind', () => {
  const model = loadModel(join(dir, 'model'));
  for (const [name, emu] of Object.entries(emulators)) {
    const shipped = logits(instantiateEmulator(emu));
    for (const init of ['fresh', 'nearest'] as const) {
      const a = attackModel(emu, { rebuildWithheld: true, init, seed: 3 });
      assert.deepEqual(logits(a.model), shipped, `${name} (${init}): budget 0 is the emulator, bit for bit`);
      restoreOriginal(a.model, model);
      assert.deepEqual(logits(a.model), logits(model), `${name} (${init}): original weights put back give the model's logits`);
    }
    const t = attackModel(emu, { rebuildWithheld: false, init: 'fresh', seed: 3 });
    assert.deepEqual(logits(t.model), shipped, `${name}: tuning everything starts at the emulator`);
    assert.ok(t.model.parameters().every((p) => p.requiresGrad));
  }
  const slots = attackModel(emulators.scaleot, { rebuildWithheld: true, init: 'fresh', seed: 3 }).slots.map((s) => s.as);
  assert.equal(slots.filter((s) => s === 'harmonizer+block').length, 2);
  assert.equal(slots.filter((s) => s === 'recovered').length, 2);
  assert.deepEqual(attackModel(emulators.crash, { rebuildWithheld: true, init: 'fresh', seed: 3 }).slots.filter((s) => s.role === 'shared').map((s) => s.as), ['copy', 'copy']);
});

test('recovery: budget 0 scores Emu ZS exactly, training needs no source model, the curve improves and resumes exactly', () => {
  // The package on disk, the source model gone: the attacker has only the package.
  const model = new GPT2LMHeadModel(CFG, 21);
  saveCheckpoint(join(dir, 'victim'), model.hfConfig, model.hfTensors());
  copyGpt2TokenizerFiles(join(dir, 'victim'));
  writeEmulatorPackage(join(dir, 'pkg'), emulators.scaleot, join(dir, 'victim'));
  rmSync(join(dir, 'victim'), { recursive: true });
  const { emulator } = readEmulatorPackage(join(dir, 'pkg'));
  const heldOut = text.subarray(3000);
  const evaluate = (m: CausalLM) => ({ loss: m.loss(heldOut.subarray(0, 32 * 8), heldOut.subarray(1, 32 * 8 + 1), 8, 32).item() });
  const emuZs = noGrad(() => evaluate(instantiateEmulator(emulator)));
  const opts = { budgets: [0, 64, 320], lr: 3e-3, batchSize: 2, seqLen: 16, seed: 1 };
  const curve = recoveryCurve(attackModel(emulator, { rebuildWithheld: true, init: 'fresh', seed: 2 }).model, text.subarray(0, 3000), opts, evaluate);
  assert.deepEqual(curve.map((p) => p.steps), [0, 2, 10]);
  assert.equal(curve[0].scores.loss, emuZs.loss, 'budget 0 = Emu ZS exactly');
  assert.ok(curve[2].scores.loss < curve[0].scores.loss, `trained: ${curve.map((p) => p.scores.loss.toFixed(4))}`);
  // Stopped after step 6 (between budgets) and resumed in a new process's worth of objects: the same points.
  const state = join(dir, 'rec-state');
  const first = attackModel(emulator, { rebuildWithheld: true, init: 'fresh', seed: 2 }).model;
  const partial = recoveryCurve(first, text.subarray(0, 3000), { ...opts, stateDir: state, checkpointEvery: 4, stopAfter: 6 }, evaluate);
  assert.deepEqual(partial.map((p) => p.steps), [0, 2]);
  const resumed = recoveryCurve(attackModel(emulator, { rebuildWithheld: true, init: 'fresh', seed: 2 }).model, text.subarray(0, 3000), { ...opts, stateDir: state, checkpointEvery: 4 }, evaluate);
  assert.deepEqual(resumed, curve);
  // The reference: the emulator's trunk, blocks from scratch.
  const ref = trunkOnlyModel(emulator, 2);
  assert.ok(noGrad(() => evaluate(ref)).loss > emuZs.loss, 'fresh blocks know less than the emulator');
});

test('runAudit: every section in audit.json, no test split opened by a selection stage, finished sections kept on a rerun', () => {
  const work = join(dir, 'run');
  const model = new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 8);
  writeCheckpointWithGpt2Tokenizer(join(work, 'model'), model);
  const emu = buildBaselineEmulator(loadModel(join(work, 'model')), 'uniform-drop', uniformDropPlan(8, 2));
  writeEmulatorPackage(join(work, 'pkg'), emu, join(work, 'model'));
  const sentence = (k: number) => Array.from({ length: 30 }, (_, i) => `The ${['sky', 'sea', 'snow'][(i + k) % 3]} is ${['blue', 'green', 'white'][(i * 2 + k) % 3]} today.`).join(' ');
  writeFileSync(join(work, 'public.jsonl'), [0, 1, 2].map((k) => JSON.stringify({ text: sentence(k) })).join('\n') + '\n');
  writeFileSync(join(work, 'owner.jsonl'), JSON.stringify({ text: sentence(5) }) + '\n');
  const lm = (k: number): Task => ({ kind: 'lm', name: 'lm', documents: [sentence(k)] });
  const mc = (k: number): Task => ({ kind: 'mc', name: 'mc', items: Array.from({ length: 4 }, (_, i) => ({ context: `Item ${i + k}: the colour is`, choices: ['blue', 'green', 'red'], label: (i + k) % 3 })) });
  const tasks = [
    { name: 'lm', splits: guardedSplits('lm', (s) => lm(s === 'train' ? 0 : s === 'validation' ? 1 : 2)) },
    { name: 'mc', splits: guardedSplits('mc', (s) => mc(s === 'train' ? 0 : s === 'validation' ? 1 : 2)) },
  ];
  const logs: string[] = [];
  const opts = {
    modelDir: join(work, 'model'), pkg: join(work, 'pkg'), tasks, ownerText: join(work, 'owner.jsonl'), publicText: [{ name: 'public', path: join(work, 'public.jsonl') }],
    budgets: [0.01, 0.03], pretrainTokens: 6400, inits: ['fresh' as const], tune: { lrs: [1e-3, 3e-3], steps: 2, batchSize: 2, seqLen: 16, seed: 0 },
    attack: { lr: 1e-3, batchSize: 2, seqLen: 16, seed: 0 }, attackEvalLimit: 2, ownerWindows: 4, outDir: join(work, 'audit'), log: (s: string) => logs.push(s),
  };
  splitGuard.clear();
  const r = runAudit(opts);
  assert.equal(r.disclosure!.verbatim, r.disclosure!.trunk.verbatim + r.disclosure!.blocks.filter((b) => b.role !== 'dropped').reduce((a, b) => a + b.parameters, 0));
  assert.deepEqual(Object.keys(r.zeroShot!), ['lm', 'mc']);
  assert.deepEqual(r.tuneEverything!.mc.runs.map((x) => x.lr), [1e-3, 3e-3]);
  assert.deepEqual(r.modelTuneEverything!.mc.runs.map((x) => x.lr), [1e-3, 3e-3], 'the model itself tuned everywhere over the same grid');
  assert.deepEqual(r.recovery!.map((x) => `${x.source} ${x.init}`), ['public fresh', 'public reference']);
  assert.deepEqual(r.recovery![0].points.map((p) => p.steps), [0, 2, 6]); // 64 and 192 tokens at 32 per step
  assert.equal(r.recovery![0].points[0].scores.lm, r.zeroShot!.lm.emuZS.validation.value, 'budget 0 of the attack = Emu ZS (all validation documents here)');
  assert.ok(Number.isFinite(r.modelReference!.owner_text_loss));
  assert.deepEqual(splitGuard.accesses.filter((a) => a.split === 'test' && a.purpose !== 'evaluation'), []);
  assert.deepEqual(JSON.parse(readFileSync(join(work, 'audit', 'audit.json'), 'utf8')), JSON.parse(JSON.stringify(r)));
  logs.length = 0;
  const again = runAudit(opts);
  assert.deepEqual(again, JSON.parse(JSON.stringify(r)));
  assert.deepEqual(logs.filter((l) => /tune-everything|recovery on/.test(l)), [], 'nothing recomputed');
});
