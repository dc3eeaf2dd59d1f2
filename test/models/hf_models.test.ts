// GPT-2, OPT and LLaMA loaded from tiny Hugging Face-layout checkpoints written by
// test/golden/make_models.py (plain PyTorch after the HF modeling files): logits within
// 1e-4, the same greedy tokens, KV cache equal to recomputation, and save -> load -> save
// byte-identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { generate } from '../../src/inference/generate.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { fixturesDir, decode, maxRelDiff, Encoded, assertClose } from '../helpers.js';

const MODELS = ['gpt2', 'opt', 'opt_postln', 'llama', 'llama_gqa'];

interface Expected {
  ids: number[][];
  logits: Encoded;
  prompt: number[];
  greedy: number[];
}

for (const name of MODELS) {
  const dir = join(fixturesDir, 'models', name);
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;

  test(`${name}: logits match the PyTorch reference to 1e-4`, () => {
    const model = loadModel(dir);
    const [B, T] = [expected.ids.length, expected.ids[0].length];
    const logits = noGrad(() => model.forward(Int32Array.from(expected.ids.flat()), B, T));
    const d = maxRelDiff(logits.data, decode(expected.logits));
    assert.ok(d < 1e-4, `max relative difference ${d}`);
  });

  test(`${name}: greedy decoding gives PyTorch's tokens, with and without the KV cache`, () => {
    const model = loadModel(dir);
    const cached = generate(model, expected.prompt, { maxNewTokens: expected.greedy.length });
    const uncached = generate(model, expected.prompt, { maxNewTokens: expected.greedy.length, useCache: false });
    assert.deepEqual(cached, expected.greedy);
    assert.deepEqual(uncached, expected.greedy);
  });

  test(`${name}: incremental logits through the KV cache equal the full forward`, () => {
    const model = loadModel(dir);
    const ids = expected.ids[0];
    const V = model.vocabSize;
    const full = noGrad(() => model.forward(Int32Array.from(ids), 1, ids.length));
    const cache = model.newCache();
    noGrad(() => {
      // a chunk of 4, then one token at a time
      const first = model.forward(Int32Array.from(ids.slice(0, 4)), 1, 4, cache);
      assertClose(first.data, full.data.subarray(0, 4 * V), 1e-5, 1e-5, 'prefix logits');
      for (let t = 4; t < ids.length; t++) {
        const step = model.forward(Int32Array.from([ids[t]]), 1, 1, cache);
        assertClose(step.data, full.data.subarray(t * V, (t + 1) * V), 1e-5, 1e-5, `position ${t}`);
      }
    });
  });

  test(`${name}: save -> load -> save is byte-identical`, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'scaleot-ckpt-'));
    try {
      const a = join(tmp, 'a'), b = join(tmp, 'b');
      const m1 = loadModel(dir);
      saveCheckpoint(a, m1.hfConfig, m1.hfTensors(), name === 'llama_gqa' ? { maxShardBytes: 20000 } : {});
      const m2 = loadModel(a);
      saveCheckpoint(b, m2.hfConfig, m2.hfTensors(), name === 'llama_gqa' ? { maxShardBytes: 20000 } : {});
      const files = readdirSync(a).sort();
      assert.deepEqual(readdirSync(b).sort(), files);
      for (const f of files) assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `${f} differs`);
      // and the re-saved checkpoint still gives the reference logits
      const [B, T] = [expected.ids.length, expected.ids[0].length];
      const logits = noGrad(() => m2.forward(Int32Array.from(expected.ids.flat()), B, T));
      assert.ok(maxRelDiff(logits.data, decode(expected.logits)) < 1e-4);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}
