// Fine-tuning: trunk frozen and untouched, blocks trained, the best learning rate chosen on
// validation, finished runs skipped on re-run, and an interrupted run resumed exactly.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { loadModel } from '../../src/models/load.js';
import { finetune, freezeTrunk, trainingExamples, nextLrUp, nextLrDown, extendLrGridUpward, extendLrGridDownward, type LrRun } from '../../src/train/finetune.js';
import { loadTaskFile } from '../../src/data/tasks.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { AdamW } from '../../src/optim/adamw.js';
import { backward } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';
import { loadTrainState, saveTrainState } from '../../src/train/state.js';

let dir = '';

const COLORS: [string, string][] = [['sky', 'blue'], ['grass', 'green'], ['snow', 'white'], ['coal', 'black'], ['blood', 'red'], ['sun', 'yellow']];
function mcFile(path: string, n: number, offset: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const [thing, color] = COLORS[(i + offset) % COLORS.length];
    const wrong = COLORS.filter(([, c]) => c !== color).map(([, c]) => c);
    const label = (i * 7 + offset) % 3;
    const choices = [wrong[(i + 1) % wrong.length], wrong[(i + 3) % wrong.length]];
    choices.splice(label, 0, color);
    lines.push(JSON.stringify({ context: `The color of ${thing} is`, choices, label }));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-ft-'));
  const model = new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2 }, 3);
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), model);
  mcFile(join(dir, 'train.jsonl'), 60, 0);
  mcFile(join(dir, 'validation.jsonl'), 12, 1);
  mcFile(join(dir, 'test.jsonl'), 12, 2);
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('training examples score only the answer tokens (MC) or every token (LM)', () => {
  const tok = TextTokenizer.fromDir(join(dir, 'model'));
  const [ex] = trainingExamples({ kind: 'mc', name: 't', items: [{ context: 'The color of sky is', choices: ['red', 'blue'], label: 1 }] }, tok, 32);
  const answer = tok.encode(' blue');
  assert.deepEqual(Array.from(ex.targets.filter((t) => t >= 0)), answer);
  assert.equal(ex.targets[ex.targets.length - 1], answer[answer.length - 1]);
  const doc = 'one two three four five six seven';
  const lm = trainingExamples({ kind: 'lm', name: 'd', documents: [doc] }, tok, 4);
  assert.ok(lm.every((e) => e.targets.every((t) => t >= 0)));
  // Consecutive windows of [EOS, ...tokens]: each input is 4 tokens (the last may be shorter),
  // its targets the same tokens shifted by one; together the inputs cover the stream.
  const stream = [tok.prefixTokenId, ...tok.encode(doc)];
  lm.forEach((e, i) => {
    assert.deepEqual(Array.from(e.input), stream.slice(4 * i, Math.min(4 * i + 4, stream.length - 1)));
    assert.deepEqual(Array.from(e.targets), stream.slice(4 * i + 1, 4 * i + 1 + e.input.length));
  });
  assert.equal(lm.reduce((n, e) => n + e.input.length, 0), stream.length - 1);
});

test('fine-tuning trains the blocks only, picks the lr on validation and resumes finished runs', () => {
  const tasks = { train: loadTaskFile(join(dir, 'train.jsonl')), validation: loadTaskFile(join(dir, 'validation.jsonl')), test: loadTaskFile(join(dir, 'test.jsonl')) };
  const out = join(dir, 'ft');
  const logs: string[] = [];
  const r = finetune(join(dir, 'model'), tasks, out, { lrs: [1e-3, 1e-2], steps: 60, batchSize: 8, log: (s) => logs.push(s) });
  assert.equal(r.runs.length, 2);
  const best = r.runs.reduce((a, b) => (b.validation.value > a.validation.value ? b : a));
  assert.equal(r.bestLr, best.lr);
  assert.ok(r.test.value > r.zeroShot.test.value, `fine-tuning should learn the color task: ${r.zeroShot.test.value} -> ${r.test.value}`);
  // the trunk is bit-for-bit the base model's; the blocks moved
  const base = loadModel(join(dir, 'model'));
  const tuned = loadModel(join(out, 'best'));
  const bp = new Map(base.namedParameters());
  for (const [name, p] of tuned.trunkParameters()) assert.deepEqual(p.data, bp.get(name)!.data, `${name} changed`);
  assert.ok(tuned.blocks.parameters().some((p, i) => p.data.some((v, k) => v !== base.blocks.parameters()[i].data[k])), 'blocks did not change');
  assert.ok(existsSync(join(out, 'results.json')));
  // re-running skips both finished runs
  const again: string[] = [];
  finetune(join(dir, 'model'), tasks, out, { lrs: [1e-3, 1e-2], steps: 60, batchSize: 8, log: (s) => again.push(s) });
  assert.equal(again.filter((l) => /done before/.test(l)).length, 2);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')).bestLr, r.bestLr);
  // every run done but the selected checkpoint gone: the best lr is trained again, same test score
  rmSync(join(out, 'best'), { recursive: true, force: true });
  const rebuilt: string[] = [];
  const r3 = finetune(join(dir, 'model'), tasks, out, { lrs: [1e-3, 1e-2], steps: 60, batchSize: 8, log: (s) => rebuilt.push(s) });
  assert.ok(rebuilt.some((l) => /saved state is gone; training it again/.test(l)), rebuilt.join('; '));
  assert.deepEqual(r3.test, r.test);
});

test('an interrupted run resumed from its saved state ends bit-identical to an uninterrupted one', () => {
  const run = (stopAt: number | null, stateDir: string | null, resumeFrom: string | null) => {
    const m = new GPT2LMHeadModel({ vocabSize: 64, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 }, 5);
    const params = freezeTrunk(m);
    const opt = new AdamW(params, { lr: 1e-2 });
    let step = 0;
    if (resumeFrom) step = loadTrainState(resumeFrom, m, opt)!.step as number;
    for (; step < 6; step++) {
      if (stopAt !== null && step === stopAt) {
        saveTrainState(stateDir!, m, opt, { step });
        return null;
      }
      const rng = new Rng(100 + step);
      const ids = Int32Array.from({ length: 32 }, () => rng.int(64));
      opt.zeroGrad();
      backward(m.loss(ids, ids.map((v) => (v + 1) % 64), 2, 16));
      opt.step();
    }
    return m.parameters().map((p) => Float32Array.from(p.data));
  };
  const straight = run(null, null, null)!;
  const state = join(dir, 'resume-state');
  run(3, state, null);
  const resumed = run(null, null, state)!;
  straight.forEach((p, i) => assert.ok(Buffer.from(p.buffer).equals(Buffer.from(resumed[i].buffer)), `parameter ${i} differs`));
});

test('nextLrUp steps a grid upward by √10, snapped to 1 or 3 × 10^k, and refuses a non-positive lr', () => {
  assert.equal(nextLrUp(1e-3), 3e-3);
  assert.equal(nextLrUp(3e-3), 1e-2);
  assert.equal(nextLrUp(3e-4), 1e-3);
  assert.equal(nextLrUp(1e-4), 3e-4);
  assert.equal(nextLrUp(2e-4), 1e-3); // 6.3e-4 snaps to the next decade (the paper's grid ends at 3e-4, then 1e-3)
  assert.throws(() => nextLrUp(0), /positive/);
  assert.throws(() => nextLrUp(Number.NaN), /positive/);
});

test('a grid whose largest lr wins is extended upward until validation stops improving; otherwise it is left alone', () => {
  // Validation perplexity as a function of lr: best at 3e-3, worse again at 1e-2.
  const ppl = (lr: number) => 100 + 1e4 * Math.abs(Math.log10(lr / 3e-3));
  const score = (lr: number) => ({ metric: 'word_perplexity' as const, value: ppl(lr), details: {} });
  const gridOf = (lrs: number[]) => {
    const runs: LrRun[] = lrs.map((lr) => ({ lr, validation: score(lr) }));
    const best = runs.reduce((a, b) => (b.validation.value < a.validation.value ? b : a));
    return { lrs, best, value: `grid ${lrs}` };
  };
  const tried: number[] = [];
  const runAt = (lr: number) => {
    tried.push(lr);
    return { best: { lr, validation: score(lr) }, value: `extension ${lr}` };
  };
  const up = extendLrGridUpward(gridOf([1e-4, 3e-4, 1e-3]), runAt);
  assert.deepEqual(tried, [3e-3, 1e-2]); // 3e-3 improves, 1e-2 does not: it stops there
  assert.equal(up.best.lr, 3e-3);
  assert.equal(up.value, 'extension 0.003');
  assert.deepEqual(up.extensions.map((x) => x.lr), [3e-3, 1e-2]);

  tried.length = 0;
  const interior = extendLrGridUpward(gridOf([1e-3, 3e-3, 1e-2]), runAt); // best inside the grid
  assert.deepEqual(tried, []);
  assert.equal(interior.best.lr, 3e-3);
  assert.equal(interior.value, 'grid 0.001,0.003,0.01');

  const single = extendLrGridUpward(gridOf([1e-3]), runAt); // a repeat at a chosen lr
  assert.deepEqual(tried, []);
  assert.equal(single.best.lr, 1e-3);

  // Accuracy (higher is better) and the step cap: always improving, at most maxSteps extensions.
  const acc = (lr: number) => ({ metric: 'acc' as const, value: Math.log10(lr) + 10, details: {} });
  const steps: number[] = [];
  const capped = extendLrGridUpward({ lrs: [1e-4, 1e-3], best: { lr: 1e-3, validation: acc(1e-3) }, value: 'g' }, (lr) => {
    steps.push(lr);
    return { best: { lr, validation: acc(lr) }, value: `e${lr}` };
  }, 2);
  assert.deepEqual(steps, [3e-3, 1e-2]);
  assert.equal(capped.best.lr, 1e-2);
  const byDefault = extendLrGridUpward({ lrs: [1e-4, 1e-3], best: { lr: 1e-3, validation: acc(1e-3) }, value: 'g' }, (lr) => ({ best: { lr, validation: acc(lr) }, value: `e${lr}` }));
  assert.deepEqual(byDefault.extensions.map((x) => x.lr), [3e-3, 1e-2, 3e-2], 'three steps at most by default');
});

test('nextLrDown steps a grid downward by √10, snapped the same way, and refuses a non-positive lr', () => {
  assert.equal(nextLrDown(1e-2), 3e-3);
  assert.equal(nextLrDown(3e-3), 1e-3);
  assert.equal(nextLrDown(1e-3), 3e-4);
  assert.equal(nextLrDown(3e-4), 1e-4);
  for (const lr of [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]) assert.equal(nextLrUp(nextLrDown(lr)), lr, `up after down returns to ${lr}`);
  assert.throws(() => nextLrDown(-1e-3), /positive/);
  assert.throws(() => nextLrDown(Number.POSITIVE_INFINITY), /positive/);
});

test('a search started at one lr is extended downward while its smallest lr wins, at most two steps by default', () => {
  // Validation perplexity best at 1e-3: from 1e-2 it steps to 3e-3 (better), 1e-3 (better), then stops at the cap.
  const ppl = (lr: number) => ({ metric: 'word_perplexity' as const, value: 100 + 1e4 * Math.abs(Math.log10(lr / 1e-3)), details: {} });
  const tried: number[] = [];
  const runAt = (lr: number) => {
    tried.push(lr);
    return { best: { lr, validation: ppl(lr) }, value: `at ${lr}` };
  };
  const from = (lr: number) => ({ lrs: [lr], best: { lr, validation: ppl(lr) }, value: `start ${lr}` });
  const down = extendLrGridDownward(from(1e-2), runAt);
  assert.deepEqual(tried, [3e-3, 1e-3], 'two steps, each better than the last');
  assert.equal(down.best.lr, 1e-3);
  assert.equal(down.value, 'at 0.001');

  tried.length = 0;
  const stops = extendLrGridDownward(from(1e-3), runAt); // 3e-4 is worse: one step, the start is kept
  assert.deepEqual(tried, [3e-4]);
  assert.equal(stops.best.lr, 1e-3);
  assert.equal(stops.value, 'start 0.001');
  assert.deepEqual(stops.extensions.map((x) => x.lr), [3e-4]);

  // A grid whose smallest lr does not win is left alone; accuracy counts higher as better.
  tried.length = 0;
  const acc = (lr: number) => ({ metric: 'acc' as const, value: -Math.abs(Math.log10(lr / 1e-2)), details: {} });
  const grid = extendLrGridDownward({ lrs: [3e-3, 1e-2], best: { lr: 1e-2, validation: acc(1e-2) }, value: 'grid' }, runAt);
  assert.deepEqual(tried, []);
  assert.equal(grid.value, 'grid');
});
