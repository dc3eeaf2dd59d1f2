// The shared training loop: a run split by stopAfter + resume equals the uninterrupted run
// bit for bit; gradient accumulation over two half batches matches one full batch; a step
// that returns no loss makes no update; the caller's record is saved and restored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { AdamW } from '../../src/optim/adamw.js';
import { randomWindows } from '../../src/data/streams.js';
import { trainLoop, stepRng } from '../../src/train/loop.js';
import { Rng } from '../../src/util/rng.js';

const stream = Int32Array.from({ length: 2000 }, (_, i) => (i * 7 + (i >> 3)) % 50);
const tiny = () => new GPT2LMHeadModel({ vocabSize: 50, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 }, 3);

function run(dir: string, opts: { stopAfter?: number; resume?: boolean }, counter: { n: number } = { n: 0 }) {
  const model = tiny();
  const opt = new AdamW(model.parameters(), { lr: 3e-3, weightDecay: 0 });
  const r = trainLoop({ steps: 10, seed: 7, schedule: (s) => 3e-3 * (1 - s / 10), checkpoint: { dir, every: 3 }, ...opts }, {
    optimizer: opt, params: model.parameters(), stateModule: model,
    forward: (_s, rng) => {
      const { ids, targets } = randomWindows(stream, 4, 8, rng);
      return model.loss(ids, targets, 4, 8);
    },
    afterStep: () => counter.n++,
    record: () => ({ seen: counter.n }),
    restore: (rec) => (counter.n = rec.seen as number),
  });
  return { model, r, counter };
}

test('a run stopped and resumed equals the uninterrupted run bit for bit, with its record restored', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-loop-'));
  try {
    const whole = run(join(dir, 'a'), {});
    const first = run(join(dir, 'b'), { stopAfter: 4 });
    assert.equal(first.r.stopped, true);
    assert.equal(first.r.steps, 4);
    const second = run(join(dir, 'b'), { resume: true });
    assert.equal(second.r.startStep, 4);
    assert.equal(second.counter.n, 10, 'the record (steps seen) came back from the checkpoint');
    const a = whole.model.parameters(), b = second.model.parameters();
    a.forEach((p, i) => assert.deepEqual(b[i].data, p.data));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('two accumulated half batches give the gradient of the full batch', () => {
  const grads = (accumulate: number) => {
    const model = tiny();
    const opt = new AdamW(model.parameters(), { lr: 0, weightDecay: 0 });
    const B = 4 / accumulate;
    trainLoop({ steps: 1, seed: 1, accumulate, clipNorm: 0 }, {
      optimizer: opt, params: model.parameters(), stateModule: model,
      forward: (_s, _rng, micro) => {
        const { ids, targets } = randomWindows(stream, 4, 8, new Rng(99)); // the same 4 windows either way
        return model.loss(ids.subarray(micro * B * 8, (micro + 1) * B * 8), targets.subarray(micro * B * 8, (micro + 1) * B * 8), B, 8);
      },
    });
    return model.parameters().map((p) => Float64Array.from(p.grad!.data));
  };
  const one = grads(1), two = grads(2);
  one.forEach((g, i) => g.forEach((v, k) => assert.ok(Math.abs(v - two[i][k]) <= 1e-5 + 1e-4 * Math.abs(v), `param ${i}[${k}]: ${v} vs ${two[i][k]}`)));
});

test('a step without a loss makes no update, and step seeds depend on the step only', () => {
  const model = tiny();
  const before = model.parameters().map((p) => Float32Array.from(p.data));
  const r = trainLoop({ steps: 3, seed: 0 }, {
    optimizer: new AdamW(model.parameters(), { lr: 1e-2 }), params: model.parameters(), stateModule: model,
    forward: () => null,
  });
  assert.equal(r.steps, 3);
  model.parameters().forEach((p, i) => assert.deepEqual(p.data, before[i]));
  assert.equal(stepRng(5, 2).uniform(), stepRng(5, 2).uniform());
  assert.notEqual(stepRng(5, 2).uniform(), stepRng(5, 3).uniform());
});
