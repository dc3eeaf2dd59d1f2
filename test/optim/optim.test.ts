import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AdamW } from '../../src/optim/adamw.js';
import { cosineWithWarmup } from '../../src/optim/schedule.js';
import { clipGradNorm } from '../../src/optim/clip.js';
import { Parameter } from '../../src/nn/module.js';
import { Tensor, tensor } from '../../src/tensor/tensor.js';
import * as T from '../../src/tensor/index.js';
import { Linear } from '../../src/nn/layers.js';
import { Rng } from '../../src/util/rng.js';
import { loadFixture } from '../helpers.js';

function param(values: number[], dtype: 'float32' | 'float64' = 'float64'): Parameter {
  const t = tensor(values, undefined, dtype);
  return new Parameter(t.data, t.shape);
}

test('AdamW: two steps equal the torch.optim.AdamW formulas computed by hand', () => {
  const p = param([1.0, -2.0]);
  const lr = 0.1, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.01;
  const opt = new AdamW([p], { lr, betas: [b1, b2], eps, weightDecay: wd });
  const grads = [[0.5, -1.5], [0.25, 2.0]];
  const ref = [1.0, -2.0], m = [0, 0], v = [0, 0];
  for (let t = 1; t <= 2; t++) {
    p.grad = tensor(grads[t - 1], undefined, 'float64');
    opt.step();
    for (let i = 0; i < 2; i++) {
      const g = grads[t - 1][i];
      ref[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      const mhat = m[i] / (1 - b1 ** t);
      const denom = Math.sqrt(v[i]) / Math.sqrt(1 - b2 ** t) + eps;
      ref[i] -= lr * mhat / denom;
    }
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(p.data[i] - ref[i]) < 1e-12, `step ${t}: ${p.data[i]} vs ${ref[i]}`);
  }
});

test('AdamW: parameters without gradients or frozen are untouched; groups override weight decay', () => {
  const a = param([1]), b = param([1]), c = param([1]);
  c.requiresGrad = false;
  const opt = new AdamW([{ params: [a], weightDecay: 0 }, { params: [b, c] }], { lr: 0.5, weightDecay: 0.1 });
  a.grad = tensor([0], undefined, 'float64');
  b.grad = tensor([0], undefined, 'float64');
  c.grad = tensor([1], undefined, 'float64');
  opt.step();
  assert.equal(a.data[0], 1); // zero gradient, no decay
  assert.ok(Math.abs(b.data[0] - (1 - 0.5 * 0.1)) < 1e-15); // decay only
  assert.equal(c.data[0], 1); // frozen
});

test('AdamW state round-trips through stateDict (resume gives identical updates)', () => {
  const run = (resumeAt: number | null) => {
    const p = param([0.3, -0.7, 1.1]);
    let opt = new AdamW([p], { lr: 0.05 });
    for (let t = 0; t < 5; t++) {
      if (t === resumeAt) {
        const sd = opt.stateDict();
        opt = new AdamW([p], { lr: 0.05 });
        opt.loadStateDict(sd);
      }
      p.grad = tensor([Math.sin(t), Math.cos(t), t / 5], undefined, 'float64');
      opt.step();
    }
    return p.toArray();
  };
  assert.deepEqual(run(3), run(null));
});

test('cosine schedule with warm-up: endpoints and midpoint', () => {
  const s = { maxLr: 1e-3, warmupSteps: 10, totalSteps: 110, minLr: 1e-4 };
  assert.equal(cosineWithWarmup(0, s), 0);
  assert.ok(Math.abs(cosineWithWarmup(5, s) - 5e-4) < 1e-15);
  assert.equal(cosineWithWarmup(10, s), 1e-3);
  assert.ok(Math.abs(cosineWithWarmup(60, s) - (1e-4 + 0.9e-3 * 0.5)) < 1e-15);
  assert.ok(Math.abs(cosineWithWarmup(110, s) - 1e-4) < 1e-15);
  assert.ok(Math.abs(cosineWithWarmup(500, s) - 1e-4) < 1e-15);
});

test('clipGradNorm scales by max_norm / (norm + 1e-6) and reports the norm', () => {
  const a = param([0]), b = param([0, 0]);
  a.grad = tensor([3], undefined, 'float64');
  b.grad = tensor([0, 4], undefined, 'float64');
  const n = clipGradNorm([a, b], 1);
  assert.equal(n, 5);
  const coef = 1 / (5 + 1e-6);
  assert.ok(Math.abs(a.grad.data[0] - 3 * coef) < 1e-15);
  assert.ok(Math.abs(b.grad!.data[1] - 4 * coef) < 1e-15);
  // below the threshold nothing changes
  a.grad = tensor([0.1], undefined, 'float64');
  clipGradNorm([a], 1);
  assert.equal(a.grad.data[0], 0.1);
  a.grad = tensor([NaN], undefined, 'float64');
  assert.throws(() => clipGradNorm([a], 1), /non-finite/);
});

test('gradient accumulation over micro-batches equals the full-batch gradient', () => {
  const lin = new Linear(4, 3, { rng: new Rng(3) });
  const rng = new Rng(9);
  const x = T.randn([8, 4], rng);
  const targets = Int32Array.from([0, 1, 2, 0, 1, 2, 2, 1]);
  T.backward(T.crossEntropy(lin.forward(x), targets));
  const full = lin.weight.grad!.toArray();
  lin.zeroGrad();
  for (let k = 0; k < 2; k++) {
    const xb = T.slice(x, 0, 4 * k, 4 * k + 4);
    const loss = T.mulScalar(T.crossEntropy(lin.forward(xb), targets.subarray(4 * k, 4 * k + 4)), 0.5);
    T.backward(loss);
  }
  const acc = lin.weight.grad!.toArray();
  for (let i = 0; i < full.length; i++) assert.ok(Math.abs(full[i] - acc[i]) < 1e-6, `${full[i]} vs ${acc[i]}`);
});

export { Tensor };

test('AdamW: a parameter that skips steps is bias-corrected by its own update count, as torch.optim.AdamW', () => {
  // test/golden/make_adamw_skip.py: `sometimes` has a gradient in steps 2, 3 and 6 only.
  const g = loadFixture<{
    lr: number; betas: [number, number]; eps: number; weight_decay: number;
    initial: { always: number[]; sometimes: number[] };
    grads_always: number[][]; grads_sometimes: (number[] | null)[];
    after: { always: number[]; sometimes: number[] }[];
  }>('adamw_skip.json');
  const always = param(g.initial.always), sometimes = param(g.initial.sometimes);
  const opt = new AdamW([always, sometimes], { lr: g.lr, betas: g.betas, eps: g.eps, weightDecay: g.weight_decay });
  g.after.forEach((ref, k) => {
    opt.zeroGrad();
    always.grad = tensor(g.grads_always[k], undefined, 'float64');
    const gs = g.grads_sometimes[k];
    if (gs) sometimes.grad = tensor(gs, undefined, 'float64');
    opt.step();
    for (const [name, p] of [['always', always], ['sometimes', sometimes]] as const) {
      ref[name].forEach((v, i) => assert.ok(Math.abs(p.data[i] - v) < 1e-13, `step ${k + 1} ${name}[${i}]: ${p.data[i]} vs torch ${v}`));
    }
  });
  // The per-parameter counts survive a state round trip.
  const sd = opt.stateDict();
  assert.deepEqual(sd.moments.map((m) => m.step), [6, 3]);
  const again = new AdamW([param(g.initial.always), param(g.initial.sometimes)], { lr: g.lr });
  again.loadStateDict(sd);
  assert.deepEqual(again.stateDict().moments.map((m) => m.step), [6, 3]);
});
