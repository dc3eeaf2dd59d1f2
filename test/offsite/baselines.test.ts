// Baselines in the same pipeline: OT's uniform LayerDrop (hand-worked kept indices),
// CRaSh's CKA clustering and sharing, Dynamic LayerDrop, and their emulators.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniformDropPlan, otAdapters } from '../../src/offsite/baselines/uniform_drop.js';
import { crashPlan, crashPlanFromCka, linearCka, blockOutputs, ckaMatrix } from '../../src/offsite/baselines/crash.js';
import { distillKeptBlocks } from '../../src/offsite/baselines/distill.js';
import { DEFAULT_EMULATOR, DroppedBlock } from '../../src/offsite/emulator.js';
import { createBaselineEmulator, createEmulator, loadEmulator } from '../../src/offsite/emulator_package.js';
import { estimateImportance, defaultImportanceConfig } from '../../src/offsite/scaleot/importance.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';

test('uniform LayerDrop: adapters first two and last two, kept = round(i (M-1)/(K-1)) of the middle', () => {
  const p = uniformDropPlan(16, 4);
  assert.deepEqual(p.adapters, [0, 1, 14, 15]);
  // M = 12 middle blocks (2..13), K = 8: positions 0, 2, 3, 5, 6, 8, 9, 11 (Python's round)
  assert.deepEqual(p.kept, [2, 4, 5, 7, 8, 10, 11, 13]);
  assert.deepEqual(p.dropped, [3, 6, 9, 12]);
});

test('baseline adapters follow N_a: ceil(N_a/2) at the bottom, floor(N_a/2) at the top, the rest is the middle', () => {
  assert.deepEqual(otAdapters(16, 2), [0, 15]);
  assert.deepEqual(otAdapters(16, 3), [0, 1, 15]);
  assert.deepEqual(otAdapters(16, 6), [0, 1, 2, 13, 14, 15]);
  const p = uniformDropPlan(16, 4, 6); // M = 10 middle blocks (3..12), K = 6: positions 0, 2, 4, 5, 7, 9
  assert.deepEqual(p.adapters, [0, 1, 2, 13, 14, 15]);
  assert.deepEqual(p.kept, [3, 5, 7, 8, 10, 12]);
  assert.deepEqual(p.dropped, [4, 6, 9, 11]);
  const n = 10;
  const flat = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0.1)));
  const c = crashPlanFromCka(n, 1, flat, 2); // middle 1..8
  assert.deepEqual(c.adapters, [0, 9]);
  assert.deepEqual([...c.kept, ...Object.keys(c.shared).map(Number)].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.throws(() => otAdapters(4, 4), /at least 5 blocks/);
});

test('linear CKA is 1 for identical and scaled representations and symmetric', () => {
  const rng = new Rng(1);
  const X = Float64Array.from({ length: 20 * 5 }, () => rng.normal());
  const Y = Float64Array.from({ length: 20 * 5 }, () => rng.normal());
  assert.ok(Math.abs(linearCka(X, X, 20, 5, 5) - 1) < 1e-12);
  assert.ok(Math.abs(linearCka(X, X.map((v) => 3 * v + 1), 20, 5, 5) - 1) < 1e-12);
  assert.ok(Math.abs(linearCka(X, Y, 20, 5, 5) - linearCka(Y, X, 20, 5, 5)) < 1e-12);
  assert.ok(linearCka(X, Y, 20, 5, 5) < 0.9);
  // The Gram-matrix form used for all pairs gives the feature-space formula's values.
  const Z = Float64Array.from({ length: 20 * 5 }, (_, k) => X[k] + 0.5 * Y[k]);
  const m = ckaMatrix([X, Y, Z], 20);
  assert.ok(Math.abs(m[0][1] - linearCka(X, Y, 20, 5, 5)) < 1e-12);
  assert.ok(Math.abs(m[1][2] - linearCka(Y, Z, 20, 5, 5)) < 1e-12);
  assert.equal(m[2][2], 1);
});

test('CRaSh merges the most similar adjacent clusters and shares each cluster\'s centre', () => {
  const n = 10; // middle blocks 2..7
  const cka: number[][] = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0.1)));
  const set = (i: number, j: number, v: number) => ((cka[i][j] = v), (cka[j][i] = v));
  set(2, 3, 0.9); // 2 and 3 alike
  set(5, 6, 0.8);
  set(6, 7, 0.85); // 5, 6, 7 alike
  set(5, 7, 0.8);
  const p = crashPlanFromCka(n, 3, cka); // 6 middle -> 3 clusters: {2,3}, {4}, {5,6,7}
  assert.deepEqual(p.adapters, [0, 1, 8, 9]);
  assert.deepEqual(p.kept, [2, 4, 6]);
  assert.deepEqual(p.shared, { 3: 2, 5: 6, 7: 6 });
});

test('baseline and Dynamic LayerDrop emulators load and run with dropped and shared blocks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-base-'));
  try {
    const model = new GPT2LMHeadModel({ vocabSize: 40, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 4);
    saveCheckpoint(join(dir, 'model'), model.hfConfig, model.hfTensors());
    const rng = new Rng(7);
    const dV = Int32Array.from({ length: 600 }, () => rng.int(40));
    const { plan } = crashPlan(model, dV, 2, { samples: 8, seqLen: 16 });
    const m = createBaselineEmulator(join(dir, 'model'), 'crash', plan, join(dir, 'crash'));
    const { model: emu } = loadEmulator(join(dir, 'crash'));
    for (const [slot, kept] of Object.entries(plan.shared)) assert.equal(emu.blocks.at(Number(slot)), emu.blocks.at(kept), 'a shared slot is the kept module itself');
    assert.ok(m.parameters.relative_size < 1);
    const ids = Int32Array.from([1, 2, 3, 4]);
    assert.ok(noGrad(() => emu.forward(ids, 1, 4)).data.every(Number.isFinite));
    createBaselineEmulator(join(dir, 'model'), 'uniform-drop', uniformDropPlan(8, 2), join(dir, 'ot'));
    const { model: ot } = loadEmulator(join(dir, 'ot'));
    assert.ok(ot.blocks.at(3) instanceof DroppedBlock || ot.blocks.at(4) instanceof DroppedBlock);
    estimateImportance(model, 16, dV, dV, { ...defaultImportanceConfig(16), rank: 4, steps: 4, batchSize: 2, seqLen: 16 }, join(dir, 'imp'), { log: () => {} });
    const dd = createEmulator(join(dir, 'model'), join(dir, 'imp'), DEFAULT_EMULATOR, join(dir, 'dd'), () => {}, { dropHarmonized: true });
    assert.equal(dd.kind, 'dynamic-drop');
    assert.equal(dd.plan.dropped!.length, 2);
    assert.equal(dd.parameters.harmonizers, 0);
    const { model: dde } = loadEmulator(join(dir, 'dd'));
    assert.ok(noGrad(() => dde.forward(ids, 1, 4)).data.every(Number.isFinite));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('CRaSh end to end: blocks that pass their input through cluster with the block before them', () => {
  const model = new GPT2LMHeadModel({ vocabSize: 40, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 4);
  // Blocks 3 and 4 output their input (both residual branches zeroed): their outputs equal
  // block 2's, so CKA(2,3) = CKA(3,4) = CKA(2,4) = 1 and CRaSh must merge {2, 3, 4}.
  for (const b of [3, 4]) {
    for (const [name, p] of model.blocks.at(b).namedParameters()) if (/c_proj/.test(name)) p.data.fill(0);
  }
  const rng = new Rng(9);
  const dV = Int32Array.from({ length: 3000 }, () => rng.int(40));
  const outs = blockOutputs(model, dV, 24, 16);
  const cka = ckaMatrix(outs, 24);
  assert.ok(Math.abs(cka[2][3] - 1) < 1e-9 && Math.abs(cka[3][4] - 1) < 1e-9, `CKA(2,3) ${cka[2][3]}, CKA(3,4) ${cka[3][4]}`);
  assert.ok(cka[4][5] < 0.999, `CKA(4,5) ${cka[4][5]}`);
  const { plan, samples } = crashPlan(model, dV, 2, { seqLen: 16 });
  assert.equal(samples, 187, 'every disjoint window when D^V holds fewer than 256');
  assert.deepEqual(plan.kept, [3, 5]);
  assert.deepEqual(plan.shared, { 2: 3, 4: 3 });
  assert.deepEqual(plan.dropped, []);
});

test('OT distillation moves the kept middle towards the full middle, leaves adapters and trunk alone, and rewrites a valid package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-distill-'));
  try {
    const model = new GPT2LMHeadModel({ vocabSize: 40, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 5);
    saveCheckpoint(join(dir, 'model'), model.hfConfig, model.hfTensors());
    const rng = new Rng(3);
    const dT = Int32Array.from({ length: 2000 }, () => rng.int(40));
    const plan = uniformDropPlan(8, 2);
    createBaselineEmulator(join(dir, 'model'), 'uniform-drop', plan, join(dir, 'ot'));
    const before = loadEmulator(join(dir, 'ot')).model;
    // The middle's output on fixed windows: emulator vs full model, normalised.
    const middleGap = (emu: typeof before) => noGrad(() => {
      const T = 16, B = 4;
      const ids = dT.subarray(0, B * T);
      const grab = (m: typeof before) => {
        let h: Float32Array | null = null;
        const blk = m.blocks.at(6);
        const orig = blk.forward.bind(blk);
        blk.forward = (x: any, ...rest: any[]) => ((h = Float32Array.from(x.data)), orig(x, ...rest));
        m.forward(ids, B, T);
        blk.forward = orig;
        return h!;
      };
      const a = grab(emu), b = grab(model);
      let num = 0, den = 0;
      for (let k = 0; k < a.length; k++) (num += (a[k] - b[k]) ** 2), (den += b[k] ** 2);
      return num / den;
    });
    const gap0 = middleGap(before);
    const m = distillKeptBlocks(join(dir, 'model'), join(dir, 'ot'), dT, { steps: 60, lr: 3e-3, batchSize: 4, seqLen: 16 }, join(dir, 'work'), () => {});
    const after = loadEmulator(join(dir, 'ot')).model; // sha256s and shapes verified on load
    const gap1 = middleGap(after);
    assert.ok(gap1 < 0.8 * gap0, `normalised middle gap ${gap0.toFixed(4)} -> ${gap1.toFixed(4)}`);
    assert.ok(m.statements.some((s) => /distilled/.test(s)));
    assert.equal(m.kind, 'uniform-drop');
    assert.deepEqual(m.plan.kept, plan.kept);
    const same = (x: Float32Array | Float64Array, y: Float32Array | Float64Array) => x.every((v, k) => v === y[k]);
    for (const i of plan.adapters) before.blocks.at(i).parameters().forEach((p, k) => assert.ok(same(p.data, after.blocks.at(i).parameters()[k].data), `adapter block ${i} unchanged`));
    assert.ok(plan.kept.some((i) => before.blocks.at(i).parameters().some((p, k) => !same(p.data, after.blocks.at(i).parameters()[k].data))), 'kept blocks changed');
    after.trunkParameters().forEach(([, p], k) => assert.ok(same(p.data, before.trunkParameters()[k][1].data), 'trunk unchanged'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
