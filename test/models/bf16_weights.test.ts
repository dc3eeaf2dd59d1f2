// Weights held in bf16 for inference (loadModel(dir, { weights: 'bf16' })): every matrix kept
// only as bfloat16 bits. The model must compute exactly what the float32 model computes with
// its matrices rounded to bf16 under the bf16 matmul precision (the same kernels see the same
// numbers), on all three architectures, through forward, the fused loss and the KV cache;
// hold half the bytes; and refuse clearly what it cannot do (training, saving).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';
import type { CausalLM } from '../../src/models/causal_lm.js';
import { generate } from '../../src/inference/generate.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { withMatmulPrecision } from '../../src/tensor/ops/matmul.js';
import { Bf16StorageError, bf16Bits, fromBf16Bits } from '../../src/tensor/tensor.js';
import { AdamW } from '../../src/optim/adamw.js';
import { fixturesDir, maxRelDiff } from '../helpers.js';

const MODELS = ['gpt2', 'opt', 'opt_postln', 'llama', 'llama_gqa'];

/** The float32 model with each matrix rounded to bf16 in place (what bf16 storage keeps). */
function roundedReference(dir: string): CausalLM {
  const model = loadModel(dir);
  for (const [, p] of model.namedParameters()) {
    if (p.ndim === 2) p.data.set(fromBf16Bits(bf16Bits(p.data as Float32Array)));
  }
  return model;
}

function parameterBytes(model: CausalLM): number {
  let bytes = 0;
  for (const [, p] of model.namedParameters()) bytes += p.bf16 ? p.bf16.byteLength : p.data.byteLength;
  return bytes;
}

for (const name of MODELS) {
  const dir = join(fixturesDir, 'models', name);

  test(`${name}: bf16-held weights compute exactly the rounded float32 model under bf16 products`, () => {
    const held = loadModel(dir, { weights: 'bf16' });
    const ref = roundedReference(dir);
    const B = 2, T = 9, V = held.vocabSize;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 11) % V);
    const targets = Int32Array.from({ length: B * T }, (_, i) => (i * 53 + 5) % V);
    const got = noGrad(() => held.forward(ids, B, T));
    const want = withMatmulPrecision('bf16', () => noGrad(() => ref.forward(ids, B, T)));
    assert.deepEqual(Array.from(got.data), Array.from(want.data), 'logits');
    const gotLoss = noGrad(() => held.loss(ids, targets, B, T)).item();
    const wantLoss = withMatmulPrecision('bf16', () => noGrad(() => ref.loss(ids, targets, B, T))).item();
    assert.equal(gotLoss, wantLoss, 'fused LM-head loss');
    // Close to the float32 model too (bf16 keeps 8 significant bits).
    const fp32 = noGrad(() => loadModel(dir).forward(ids, B, T));
    assert.ok(maxRelDiff(got.data, fp32.data) < 0.05, `relative difference to float32 ${maxRelDiff(got.data, fp32.data)}`);
    // Sampling through the KV cache equals recomputation.
    const prompt = Array.from(ids.subarray(0, 5));
    assert.deepEqual(generate(held, prompt, { maxNewTokens: 4 }), generate(held, prompt, { maxNewTokens: 4, useCache: false }));
  });

  test(`${name}: bf16-held weights take about half the bytes`, () => {
    const held = parameterBytes(loadModel(dir, { weights: 'bf16' }));
    const full = parameterBytes(loadModel(dir));
    // Norm weights and biases stay float32, so slightly above half.
    assert.ok(held < 0.56 * full && held >= 0.5 * full, `${held} of ${full} bytes`);
  });
}

test('a model with bf16-held weights refuses training and saving with a clear error', () => {
  const model = loadModel(join(fixturesDir, 'models', 'gpt2'), { weights: 'bf16' });
  const matrices = model.namedParameters().filter(([, p]) => p.ndim === 2);
  assert.ok(matrices.length > 0 && matrices.every(([, p]) => p.bf16 !== null && !p.requiresGrad));
  assert.throws(() => model.hfTensors().map((t) => t.data.length), Bf16StorageError);
  const [, w] = matrices[0];
  assert.throws(() => new AdamW([w], { lr: 1e-3 }), /held in bf16 .* cannot be trained/);
  assert.throws(() => w.data, /held in bf16 \(weights for inference\)/);
});

test("weights 'auto' keeps float32 for a checkpoint that is not all BF16", () => {
  const model = loadModel(join(fixturesDir, 'models', 'gpt2'), { weights: 'auto' });
  assert.ok(model.namedParameters().every(([, p]) => p.bf16 === null));
});
