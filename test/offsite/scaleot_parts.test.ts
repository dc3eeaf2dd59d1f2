// ScaleOT's building blocks: the layer plan of Eqs. 8-11 (hand-worked examples, ties and
// remainders), SRC against Eckart-Young, harmonizers as identity at init, and Table 3's
// PEFT parameter counts on a GPT2-XL-shaped config with no weights loaded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planEmulator, makeGroups } from '../../src/offsite/scaleot/plan.js';
import { compressLinear, srcRank, LowRankLinear, applySrc } from '../../src/offsite/scaleot/src.js';
import { Harmonizer } from '../../src/offsite/scaleot/harmonizer.js';
import { Linear } from '../../src/nn/layers.js';
import { svd } from '../../src/linalg/svd.js';
import { Rng } from '../../src/util/rng.js';
import { randn } from '../../src/tensor/tensor.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { loraParameterCount, bottleneckParameterCount, blockLinearShapes } from '../../src/peft/count.js';
import { LoraLinear } from '../../src/peft/lora.js';
import { GPT2LMHeadModel, GPT2Block, gpt2Spec } from '../../src/models/gpt2.js';
import { assertClose } from '../helpers.js';

test('groups of adjacent blocks, remainder to the first groups', () => {
  assert.deepEqual(makeGroups(8, 4), [[0, 1], [2, 3], [4, 5], [6, 7]]);
  assert.deepEqual(makeGroups(10, 4), [[0, 1, 2], [3, 4, 5], [6, 7], [8, 9]]);
});

test('plan: adapters are each group\'s best, harmonized its worst; ties to the lower index', () => {
  const scores = [0.5, 0.9, 0.1, 0.1, 0.3, 0.7, 0.2, 0.8];
  const p = planEmulator(scores, { numAdapters: 4, alpha: 0.25, numGroups: 4 });
  // group 1 ties (0.1, 0.1): the lower index 2 ranks first and becomes the adapter
  assert.deepEqual(p.adapters, [1, 2, 5, 7]);
  // round(0.25 * 8) = 2 harmonized, 0 per group + remainder to the lowest next candidates: 3 (0.1), 6 (0.2)
  assert.deepEqual(p.harmonized, [3, 6]);
  assert.deepEqual(p.compressed, [0, 4]);
  assert.equal(p.roles.filter((r) => r === 'adapter').length, 4);
});

test('plan: remainders go to the groups whose next candidate ranks highest / lowest', () => {
  const scores = [0.5, 0.9, 0.1, 0.1, 0.3, 0.7, 0.2, 0.8];
  const p = planEmulator(scores, { numAdapters: 6, alpha: 0.25, numGroups: 4 });
  // one per group, then the best next candidates: block 0 (0.5), then block 4 (0.3)
  assert.deepEqual(p.adapters, [0, 1, 2, 4, 5, 7]);
  assert.deepEqual(p.harmonized, [3, 6]);
  assert.deepEqual(p.compressed, []);
  // exact totals for any N_a and α on 16 blocks
  const s16 = Array.from({ length: 16 }, (_, i) => Math.sin(i * 1.7));
  for (const na of [0, 1, 2, 3, 4, 5, 8]) {
    for (const alpha of [0, 0.1, 0.25, 0.3, 0.5]) {
      if (na + Math.round(alpha * 16) > 16) continue;
      const q = planEmulator(s16, { numAdapters: na, alpha, numGroups: 4 });
      assert.equal(q.adapters.length, na);
      assert.equal(q.harmonized.length, [0, 2, 4, 5, 8][[0, 0.1, 0.25, 0.3, 0.5].indexOf(alpha)]); // Python's round(α n)
      assert.equal(q.adapters.length + q.harmonized.length + q.compressed.length, 16);
    }
  }
  assert.throws(() => planEmulator(s16, { numAdapters: 10, alpha: 0.5 }), /exceed the 16 blocks/);
});

test('SRC keeps the best rank-r approximation: errors equal Eckart-Young (Frobenius and spectral)', () => {
  const rng = new Rng(3);
  for (const layout of ['out_in', 'in_out'] as const) {
    for (const beta of [0.5, 0.8, 0.1]) {
      const lin = new Linear(24, 40, { layout, rng });
      const { module, report } = compressLinear(lin, beta);
      assert.equal(report.rank, srcRank(40, 24, beta));
      // the effective (out, in) weight of the compressed layer
      const eff = new Float64Array(40 * 24);
      if (module instanceof LowRankLinear) {
        assert.equal(report.stored, 'factors');
        for (let i = 0; i < 40; i++) for (let j = 0; j < 24; j++) {
          let v = 0;
          for (let q = 0; q < report.rank; q++) v += module.up.data[i * report.rank + q] * module.down.data[q * 24 + j];
          eff[i * 24 + j] = v;
        }
      } else {
        assert.equal(report.stored, 'dense');
        for (let i = 0; i < 40; i++) for (let j = 0; j < 24; j++) eff[i * 24 + j] = layout === 'out_in' ? module.weight.data[i * 24 + j] : module.weight.data[j * 40 + i];
      }
      const orig = new Float64Array(40 * 24);
      for (let i = 0; i < 40; i++) for (let j = 0; j < 24; j++) orig[i * 24 + j] = layout === 'out_in' ? lin.weight.data[i * 24 + j] : lin.weight.data[j * 40 + i];
      const diff = orig.map((v, k) => v - eff[k]);
      const frob = Math.sqrt(diff.reduce((a, v) => a + v * v, 0));
      assert.ok(Math.abs(frob - report.frobeniusError) < 1e-5 * (1 + report.frobeniusError), `${layout} β=${beta}: Frobenius ${frob} vs ${report.frobeniusError}`);
      const spec = svd(diff, 40, 24).S[0];
      assert.ok(Math.abs(spec - report.spectralError) < 1e-5 * (1 + report.spectralError), `${layout} β=${beta}: spectral ${spec} vs ${report.spectralError}`);
    }
  }
});

test('SRC on a GPT-2 block compresses only the attention projections by default', () => {
  const cfg = { vocabSize: 10, nPositions: 8, nEmbd: 32, nLayer: 2, nHead: 4, nInner: 128, layerNormEpsilon: 1e-5, residDropout: 0, embdDropout: 0, attnDropout: 0, initializerRange: 0.02 };
  const block = new GPT2Block(cfg, new Rng(1));
  const reports = applySrc(block, gpt2Spec(cfg), 0.8);
  assert.deepEqual(reports.map((r) => r.path), ['attn.c_attn', 'attn.c_proj']);
  assert.ok(block.attn.c_attn instanceof LowRankLinear);
  assert.ok(block.mlp.c_fc instanceof Linear);
  const x = randn([1, 3, 32], new Rng(2));
  assert.equal(noGrad(() => block.forward(x)).shape.join(), '1,3,32');
});

test('a fresh harmonizer is the identity', () => {
  const h = new Harmonizer(16, 4);
  const x = randn([2, 5, 16], new Rng(4));
  assert.deepEqual(noGrad(() => h.forward(x)).toArray(), x.toArray());
});

test('Table 3: PEFT parameter counts on a GPT2-XL-shaped config (no weights loaded)', () => {
  const xl = { model_type: 'gpt2', vocab_size: 50257, n_positions: 1024, n_embd: 1600, n_layer: 48, n_head: 25 };
  assert.equal(loraParameterCount(xl, 4, 4), 409_600);
  assert.equal(bottleneckParameterCount(xl, 4, 64), 1_651_712);
  // FT trains every block: 48 (12 C^2 + 13 C) = 1.48B, as Table 3 states
  const perBlock = blockLinearShapes(xl).reduce((a, l) => a + l.in * l.out + l.out, 0) + 4 * 1600;
  assert.equal(Math.round((48 * perBlock) / 1e7) / 100, 1.48);
});

test('a merged LoRA equals the unmerged one and differs from the base; unmerge restores it', () => {
  const model = new GPT2LMHeadModel({ vocabSize: 30, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 }, 8);
  const ids = Int32Array.from([1, 5, 9, 2, 7, 3]);
  const base = noGrad(() => model.forward(ids, 1, 6)).data.slice();
  const block = model.blocks.at(0) as GPT2Block;
  const baseWeight = block.attn.c_attn.weight.data.slice();
  const lora = new LoraLinear(block.attn.c_attn, { r: 4, alpha: 8 }, new Rng(2));
  const rng = new Rng(5);
  for (let i = 0; i < lora.lora_B.weight.size; i++) lora.lora_B.weight.data[i] = rng.normal() * 0.1; // as if trained
  (block.attn as unknown as { c_attn: unknown }).c_attn = lora;
  const unmerged = noGrad(() => model.forward(ids, 1, 6)).data.slice();
  lora.merge();
  const merged = noGrad(() => model.forward(ids, 1, 6)).data.slice();
  assertClose(merged, unmerged, 1e-5, 1e-5, 'merged vs unmerged');
  assert.ok(merged.some((v, i) => Math.abs(v - base[i]) > 1e-3), 'the LoRA must change the model');
  lora.unmerge();
  assertClose(lora.base_layer.weight.data, baseWeight, 0, 1e-6, 'unmerge restores the base weight');
});
