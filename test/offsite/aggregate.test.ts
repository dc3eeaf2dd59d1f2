// FedAvg of several data owners' adapters on one emulator: full tuning averages the tuned
// weights (= the deltas), LoRA is the exact mean of the deltas as a LoRA of rank K·r;
// weights (0.5, 0.5) against deltas computed by hand, an adapter aggregated with itself
// equals itself, weights (1, 0) equal the first; foreign or tampered adapters are refused.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { estimateImportance, defaultImportanceConfig } from '../../src/offsite/scaleot/importance.js';
import { DEFAULT_EMULATOR } from '../../src/offsite/emulator.js';
import { createEmulator, loadEmulator } from '../../src/offsite/emulator_package.js';
import { prepareAdapters, writeAdapterPackage } from '../../src/offsite/tune.js';
import { aggregateAdapters, AggregationError } from '../../src/offsite/aggregate.js';
import { plugIn } from '../../src/offsite/plugin.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { Checkpoint } from '../../src/io/checkpoint.js';
import { DEFAULT_LORA } from '../../src/peft/lora.js';
import { Rng } from '../../src/util/rng.js';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';

let dir = '';

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-aggregate-'));
  const model = new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 31);
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), model);
  const rng = new Rng(1);
  const s = () => Int32Array.from({ length: 800 }, () => rng.int(50257));
  estimateImportance(model, 16, s(), s(), { ...defaultImportanceConfig(16), rank: 4, steps: 4, batchSize: 2, seqLen: 16 }, join(dir, 'imp'));
  createEmulator(join(dir, 'model'), join(dir, 'imp'), DEFAULT_EMULATOR, join(dir, 'emu'));
  createEmulator(join(dir, 'model'), join(dir, 'imp'), { ...DEFAULT_EMULATOR, beta: 0.5 }, join(dir, 'emu-other'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** An adapter as if a data owner had tuned it: the prepared parameters moved at random. */
function adapter(name: string, method: 'full' | 'lora', seed: number, emu = 'emu'): string {
  const { model, manifest } = loadEmulator(join(dir, emu));
  const { named } = prepareAdapters(model, manifest.plan.adapters, method, DEFAULT_LORA, seed);
  const rng = new Rng(seed);
  for (const [, p] of named()) for (let k = 0; k < p.size; k++) p.data[k] += 0.05 * rng.normal();
  writeAdapterPackage(join(dir, name), join(dir, emu), manifest, method, 1e-4, named(), DEFAULT_LORA);
  return join(dir, name);
}

function tensors(adapterDir: string): Map<string, Float32Array> {
  const st = SafetensorsFile.open(join(adapterDir, 'adapter.safetensors'));
  try {
    return new Map(st.names().map((n) => [n, st.readFloat32(n)]));
  } finally {
    st.close();
  }
}

test('full tuning: the weighted mean of the tuned weights, itself with itself, and weights (1, 0)', () => {
  const a = adapter('full-a', 'full', 1), b = adapter('full-b', 'full', 2);
  const ta = tensors(a), tb = tensors(b);
  const half = tensors((aggregateAdapters(join(dir, 'emu'), [a, b], [1, 1], join(dir, 'full-half')), join(dir, 'full-half')));
  for (const [n, x] of ta) half.get(n)!.forEach((v, k) => assert.equal(v, Math.fround(0.5 * x[k] + 0.5 * tb.get(n)![k]), `${n}[${k}]`));
  aggregateAdapters(join(dir, 'emu'), [a, a], [0.5, 0.5], join(dir, 'full-self'));
  assert.deepEqual(tensors(join(dir, 'full-self')), ta);
  const m = aggregateAdapters(join(dir, 'emu'), [a, b], [1, 0], join(dir, 'full-first'));
  assert.deepEqual(tensors(join(dir, 'full-first')), ta);
  assert.deepEqual((m as unknown as { aggregated_from: { weight: number }[] }).aggregated_from.map((x) => x.weight), [1, 0]);
});

test('LoRA: the exact mean of the deltas as a LoRA of rank K·r that plugs in like any other', () => {
  const a = adapter('lora-a', 'lora', 3), b = adapter('lora-b', 'lora', 4);
  const m = aggregateAdapters(join(dir, 'emu'), [a, b], [0.5, 0.5], join(dir, 'lora-half'));
  assert.deepEqual(m.lora, { r: 2 * DEFAULT_LORA.r, alpha: 2 * DEFAULT_LORA.alpha });
  const ta = tensors(a), tb = tensors(b), th = tensors(join(dir, 'lora-half'));
  const r = DEFAULT_LORA.r, s = DEFAULT_LORA.alpha / DEFAULT_LORA.r;
  // ΔW = s B A, by hand in float64, for one layer.
  const name = [...ta.keys()].find((n) => n.endsWith('attn.c_attn.lora_A.weight'))!.slice(0, -'.lora_A.weight'.length);
  const delta = (A: Float32Array, B: Float32Array, rank: number, scale: number) => {
    const inn = A.length / rank, out = B.length / rank;
    return Float64Array.from({ length: out * inn }, (_, k) => {
      const i = Math.floor(k / inn), j = k % inn;
      let v = 0;
      for (let q = 0; q < rank; q++) v += B[i * rank + q] * A[q * inn + j];
      return scale * v;
    });
  };
  const want = delta(ta.get(`${name}.lora_A.weight`)!, ta.get(`${name}.lora_B.weight`)!, r, s).map((v, k) => 0.5 * v + 0.5 * delta(tb.get(`${name}.lora_A.weight`)!, tb.get(`${name}.lora_B.weight`)!, r, s)[k]);
  const got = delta(th.get(`${name}.lora_A.weight`)!, th.get(`${name}.lora_B.weight`)!, 2 * r, (2 * DEFAULT_LORA.alpha) / (2 * r));
  got.forEach((v, k) => assert.ok(Math.abs(v - want[k]) <= 1e-6 * (1 + Math.abs(want[k])), `ΔW[${k}]: ${v} vs ${want[k]}`));
  // Weights (1, 0): the merged checkpoint equals the first adapter's, bit for bit.
  aggregateAdapters(join(dir, 'emu'), [a, b], [1, 0], join(dir, 'lora-first'));
  plugIn(join(dir, 'model'), join(dir, 'lora-first'), join(dir, 'plug-first'));
  plugIn(join(dir, 'model'), a, join(dir, 'plug-a'));
  const ca = Checkpoint.open(join(dir, 'plug-a')), cf = Checkpoint.open(join(dir, 'plug-first'));
  try {
    for (const n of ca.names()) assert.deepEqual(cf.read(n), ca.read(n), n);
  } finally {
    ca.close();
    cf.close();
  }
  // The half-half aggregate plugs in (the plug-in's own checks accept rank 2r).
  plugIn(join(dir, 'model'), join(dir, 'lora-half'), join(dir, 'plug-half'));
});

test('an adapter from another emulator, a tampered adapter or bad weights are refused', () => {
  const a = adapter('ok', 'full', 5), other = adapter('other', 'full', 6, 'emu-other');
  assert.throws(() => aggregateAdapters(join(dir, 'emu'), [a, other], [1, 1], join(dir, 'x1')), (e: Error) => e instanceof AggregationError && /tuned on another emulator/.test(e.message));
  const t = adapter('tampered', 'full', 7);
  const bytes = readFileSync(join(t, 'adapter.safetensors'));
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(join(t, 'adapter.safetensors'), bytes);
  assert.throws(() => aggregateAdapters(join(dir, 'emu'), [a, t], [1, 1], join(dir, 'x2')), /sha256|tampered/);
  assert.throws(() => aggregateAdapters(join(dir, 'emu'), [a], [0], join(dir, 'x3')), /positive sum/);
  assert.throws(() => aggregateAdapters(join(dir, 'emu'), [a, a], [1], join(dir, 'x4')), /1 weights for 2 adapters/);
});
