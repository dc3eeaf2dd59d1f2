// A 2-layer GPT-2 trained 10 AdamW steps from fixed weights matches PyTorch (as llm.c's
// test_gpt2.c does): logits and every gradient of step 1, and the loss of every step, to
// 1e-4 relative. Fixture: test/golden/make_golden.py.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { AdamW } from '../../src/optim/adamw.js';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { loadFixture, decode, decodeTensor, maxRelDiff, Encoded } from '../helpers.js';

interface Fixture {
  config: { vocab_size: number; n_positions: number; n_embd: number; n_layer: number; n_head: number };
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  batch: [number, number];
  ids: Encoded;
  targets: Encoded;
  weights: Record<string, Encoded>;
  logits0: Encoded;
  grads0: Record<string, Encoded>;
  losses: number[];
}

const fx = loadFixture<Fixture>('gpt2_train.json');

function buildModel(): GPT2LMHeadModel {
  const c = fx.config;
  const model = new GPT2LMHeadModel({ vocabSize: c.vocab_size, nPositions: c.n_positions, nEmbd: c.n_embd, nLayer: c.n_layer, nHead: c.n_head });
  const state = new Map<string, Tensor>();
  for (const [k, e] of Object.entries(fx.weights)) state.set(k, decodeTensor(e));
  model.loadStateDict(state);
  return model;
}

test('GPT-2 parameter names and count match the PyTorch reference', () => {
  const model = buildModel();
  const names = model.namedParameters().map(([n]) => n).sort();
  assert.deepEqual(names, Object.keys(fx.weights).sort());
});

test('GPT-2: logits, step-1 gradients and 10 AdamW losses match PyTorch to 1e-4', () => {
  const model = buildModel();
  const [B, T] = fx.batch;
  const ids = decode(fx.ids) as Int32Array;
  const targets = decode(fx.targets) as Int32Array;
  const o = fx.optimizer;
  const opt = new AdamW(model.parameters(), { lr: o.lr, betas: o.betas, eps: o.eps, weightDecay: o.weight_decay });
  const losses: number[] = [];
  for (let step = 0; step < 10; step++) {
    opt.zeroGrad();
    const loss = model.loss(ids, targets, B, T);
    backward(loss);
    if (step === 0) {
      const logits = noGrad(() => model.forward(ids, B, T));
      const d = maxRelDiff(logits.data, decode(fx.logits0));
      assert.ok(d < 1e-4, `logits max relative diff ${d}`);
      for (const [name, p] of model.namedParameters()) {
        const ref = decode(fx.grads0[name]);
        const dg = maxRelDiff(p.grad!.data, ref);
        assert.ok(dg < 1e-4, `gradient of ${name}: max relative diff ${dg}`);
      }
    }
    losses.push(loss.item());
    opt.step();
  }
  for (let i = 0; i < 10; i++) {
    const rel = Math.abs(losses[i] - fx.losses[i]) / Math.abs(fx.losses[i]);
    assert.ok(rel < 1e-4, `step ${i}: loss ${losses[i]} vs PyTorch ${fx.losses[i]} (rel ${rel})`);
  }
});
