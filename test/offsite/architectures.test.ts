// The offsite pipeline on every architecture: OPT (with its separate projections) and
// LLaMA (grouped-query attention, SwiGLU) through importance, emulator (SRC on their
// attention projections), LoRA and full adapters, and a bit-exact untouched plug-in.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OPTForCausalLM } from '../../src/models/opt.js';
import { LlamaForCausalLM } from '../../src/models/llama.js';
import type { CausalLM } from '../../src/models/causal_lm.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { loadModel } from '../../src/models/load.js';
import { estimateImportance, defaultImportanceConfig } from '../../src/offsite/scaleot/importance.js';
import { DEFAULT_EMULATOR } from '../../src/offsite/emulator.js';
import { createEmulator, loadEmulator } from '../../src/offsite/emulator_package.js';
import { adapterParameterShapes, prepareAdapters, writeAdapterPackage } from '../../src/offsite/tune.js';
import { plugIn } from '../../src/offsite/plugin.js';
import { DEFAULT_LORA } from '../../src/peft/lora.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';

const models: [string, () => CausalLM][] = [
  ['opt', () => new OPTForCausalLM({ vocabSize: 50, hiddenSize: 32, numLayers: 8, numHeads: 4, ffnDim: 48, maxPositions: 32, wordEmbedProjDim: 32,
    doLayerNormBefore: true, enableBias: true, layerNormAffine: true, removeFinalLayerNorm: false, activation: 'relu' }, 2)],
  ['llama', () => new LlamaForCausalLM({ vocabSize: 50, hiddenSize: 32, intermediateSize: 40, numLayers: 8, numHeads: 4, numKeyValueHeads: 2,
    headDim: 8, maxPositions: 32, rmsNormEps: 1e-6, ropeTheta: 10000, tieWordEmbeddings: false, attentionBias: false, mlpBias: false }, 3)],
];

for (const [name, make] of models) {
  test(`${name}: importance -> emulator -> adapters -> plug-in`, () => {
    const dir = mkdtempSync(join(tmpdir(), `scaleot-${name}-`));
    try {
      const model = make();
      saveCheckpoint(join(dir, 'model'), model.hfConfig, model.hfTensors());
      const rng = new Rng(4);
      const s = () => Int32Array.from({ length: 600 }, () => rng.int(50));
      estimateImportance(model, 32, s(), s(), { ...defaultImportanceConfig(32), rank: 4, steps: 6, batchSize: 2, seqLen: 16 }, join(dir, 'imp'), { log: () => {} });
      const m = createEmulator(join(dir, 'model'), join(dir, 'imp'), DEFAULT_EMULATOR, join(dir, 'emu'));
      assert.equal(m.plan.compressed.length, 2);
      assert.ok(m.src.every((b) => b.reports.length === 4 && b.reports.every((r) => r.path.startsWith('self_attn.'))));
      const { model: emu } = loadEmulator(join(dir, 'emu'));
      const ids = Int32Array.from([1, 2, 3, 4, 5]);
      assert.ok(noGrad(() => emu.forward(ids, 1, 5)).data.every(Number.isFinite));
      for (const method of ['full', 'lora', 'adapter'] as const) {
        const { model: e, manifest } = loadEmulator(join(dir, 'emu'));
        const expected = adapterParameterShapes(e, manifest.plan.adapters, method);
        const { named } = prepareAdapters(e, manifest.plan.adapters, method);
        assert.deepEqual(new Map(named().map(([n, p]) => [n, [...p.shape]])), new Map([...expected].map(([n, s]) => [n, [...s]])), `${method}: what plug-in expects = what tuning makes`);
        assert.ok(noGrad(() => e.forward(ids, 1, 5)).data.every(Number.isFinite));
        if (method === 'adapter') continue;
        writeAdapterPackage(join(dir, `a-${method}`), join(dir, 'emu'), manifest, method, 1e-4, named(), DEFAULT_LORA);
        plugIn(join(dir, 'model'), join(dir, `a-${method}`), join(dir, `p-${method}`));
        const a = noGrad(() => loadModel(join(dir, 'model')).forward(ids, 1, 5)).data;
        const b = noGrad(() => loadModel(join(dir, `p-${method}`)).forward(ids, 1, 5)).data;
        assert.ok(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `${name} ${method}: untouched plug-in differs`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
