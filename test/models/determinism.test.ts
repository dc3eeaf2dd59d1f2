// Same inputs, same thread count -> bitwise-identical outputs and gradients. Later
// invariants ("plugging back an untouched adapter reproduces the logits exactly") rely on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { backward, noGrad } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';

function run(): { logits: Float32Array; grads: Float32Array[] } {
  const model = new GPT2LMHeadModel({ vocabSize: 64, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 4 }, 5);
  const rng = new Rng(3);
  const ids = Int32Array.from({ length: 2 * 24 }, () => rng.int(64));
  const targets = Int32Array.from({ length: 2 * 24 }, () => rng.int(64));
  const loss = model.loss(ids, targets, 2, 24);
  backward(loss);
  const logits = noGrad(() => model.forward(ids, 2, 24));
  return { logits: logits.data as Float32Array, grads: model.parameters().map((p) => p.grad!.data as Float32Array) };
}

test('forward and backward are bitwise reproducible', () => {
  const a = run(), b = run();
  assert.ok(Buffer.from(a.logits.buffer).equals(Buffer.from(b.logits.buffer)), 'logits differ');
  a.grads.forEach((g, i) => assert.ok(Buffer.from(g.buffer).equals(Buffer.from(b.grads[i].buffer)), `gradient ${i} differs`));
});
