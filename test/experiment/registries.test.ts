// A new offsite-tuning method and a new tuner added through the registries alone (this
// file plus one registration line each), then run through `scaleot experiment` (the CLI's
// command function, in this process so the registrations count) on a tiny model.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { blockPrefix, type CausalLM } from '../../src/models/causal_lm.js';
import type { Parameter } from '../../src/nn/module.js';
import { buildBaselineEmulator } from '../../src/offsite/emulator.js';
import { otAdapters } from '../../src/offsite/baselines/uniform_drop.js';
import { registerMethod, type OffsiteMethod } from '../../src/offsite/methods.js';
import { registerTuner } from '../../src/peft/registry.js';
import type { Tuner } from '../../src/peft/tuner.js';
import { weightedMean } from '../../src/peft/aggregate.js';
import { runExperimentCommand } from '../../src/cli/experiment.js';
import type { ExperimentResults } from '../../src/experiment/results.js';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';

/** BitFit: only the biases of the adapter blocks train; they are the blocks' own weights. */
function biases(model: CausalLM, blocks: number[]): [string, Parameter][] {
  return blocks.flatMap((i) => model.blocks.at(i).namedParameters()
    .filter(([n]) => n.endsWith('.bias'))
    .map(([n, p]): [string, Parameter] => [model.spec.hfName(blockPrefix(model.spec, i) + n), p]));
}
const bitfit: Tuner = {
  name: 'bitfit',
  description: 'the biases of the adapter blocks only',
  prepare(model, blocks) {
    model.requiresGrad(false);
    const named = biases(model, blocks);
    for (const [, p] of named) p.requiresGrad = true;
    return named;
  },
  expectedShapes: (model, blocks) => new Map(biases(model, blocks).map(([n, p]) => [n, p.shape])),
  merge() {},
  aggregate: (members) => ({ ...weightedMean(members), config: undefined }),
};

/** Keeps the first middle blocks and drops the last round(α n) of them. */
const dropLast: OffsiteMethod = {
  name: 'drop-last',
  label: 'Drop the last middle blocks',
  needs: {},
  settings: (base) => ({ ...base, noSrc: true }),
  build(ctx) {
    const model = ctx.loadModel();
    const n = model.blocks.length;
    const middle = Array.from({ length: n - 4 }, (_, i) => i + 2);
    const keep = middle.length - ctx.numRemoved;
    return buildBaselineEmulator(model, 'uniform-drop', { adapters: otAdapters(n), kept: middle.slice(0, keep), dropped: middle.slice(keep), shared: {} });
  },
};

registerTuner(bitfit);
registerMethod(dropLast);

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-registries-'));
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 5));
  const text = (k: number) => Array.from({ length: 30 }, (_, i) => `The ${['sky', 'sea', 'snow'][(i + k) % 3]} is ${['blue', 'green', 'white'][(i * 2 + k) % 3]} today.`).join(' ');
  for (const [s, k] of [['train', 0], ['validation', 1], ['test', 2]] as const) writeFileSync(join(dir, `lm-${s}.txt`), text(k));
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('a method and a tuner added through the registries run through scaleot experiment', () => {
  const files = { train: 'lm-train.txt', validation: 'lm-validation.txt', test: 'lm-test.txt' };
  writeFileSync(join(dir, 'experiment.json'), JSON.stringify({
    name: 'toy', model: 'model', tasks: [{ name: 'lm', files, evalChars: 300 }],
    methods: ['drop-last'],
    importance: { steps: 2, batchSize: 2, seqLen: 16, rank: 4 },
    finetune: { lrs: [1e-3], steps: 2, batchSize: 2, seqLen: 16 },
    tune: { method: 'bitfit' },
  }));
  const log = console.log;
  console.log = () => {}; // the command prints its table; this test reads results.json
  try {
    runExperimentCommand(['--config', join(dir, 'experiment.json'), '--out', join(dir, 'out'), '--cache', join(dir, 'cache')]);
  } finally {
    console.log = log;
  }
  const r = JSON.parse(readFileSync(join(dir, 'out', 'results.json'), 'utf8')) as ExperimentResults;
  assert.equal(r.methods.length, 1);
  const m = r.methods[0];
  assert.equal(m.method, 'drop-last');
  assert.equal(m.label, 'Drop the last middle blocks');
  assert.deepEqual(m.emulator.roles, ['adapter', 'adapter', 'kept', 'kept', 'dropped', 'dropped', 'adapter', 'adapter']);
  const s = m.tasks.lm;
  assert.equal(s.tuneMethod, 'bitfit');
  // GPT-2 blocks have 6 biases (ln_1, c_attn, c_proj, ln_2, c_fc, c_proj): 4 adapters × (16 + 48 + 16 + 16 + 64 + 16).
  assert.equal(s.trainable, 4 * (16 + 48 + 16 + 16 + 64 + 16));
  for (const v of [s.emuZS.test.value, s.emuFT.test.value, s.plugin.value]) assert.ok(Number.isFinite(v));
});
