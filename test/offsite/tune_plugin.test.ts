// Offsite tuning and plug-in: an untouched adapter plugged back reproduces the full model
// bit for bit; a tuned LoRA merges into a checkpoint equal to the unmerged model; tampered,
// foreign and non-finite adapters are refused with nothing written.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { saveCheckpoint } from '../../src/io/checkpoint.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { loadModel } from '../../src/models/load.js';
import { estimateImportance, defaultImportanceConfig } from '../../src/offsite/scaleot/importance.js';
import { DEFAULT_EMULATOR } from '../../src/offsite/emulator.js';
import { createEmulator, loadEmulator } from '../../src/offsite/emulator_package.js';
import { sha256File } from '../../src/io/hash.js';
import { offsiteTune, prepareAdapters, writeAdapterPackage } from '../../src/offsite/tune.js';
import { plugIn, validateAdapter, attachAdapter } from '../../src/offsite/plugin.js';
import { loadTaskFile } from '../../src/data/tasks.js';
import { DEFAULT_LORA } from '../../src/peft/lora.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';
import { assertClose, writeCheckpointWithGpt2Tokenizer } from '../helpers.js';

let dir = '';
const ids = Int32Array.from([464, 3290, 286, 6766, 318, 4171, 13, 383]);

function mc(path: string, n: number, offset: number): string {
  const pairs = [['sky', 'blue'], ['grass', 'green'], ['snow', 'white'], ['coal', 'black']];
  const lines = Array.from({ length: n }, (_, i) => {
    const [thing, color] = pairs[(i + offset) % 4];
    const label = (i + offset) % 2;
    const other = pairs[(i + offset + 1) % 4][1];
    return JSON.stringify({ context: `The color of ${thing} is`, choices: label ? [other, color] : [color, other], label });
  });
  writeFileSync(path, lines.join('\n') + '\n');
  return path;
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-tune-'));
  const model = new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 21);
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), model);
  const rng = new Rng(1);
  const s = () => Int32Array.from({ length: 800 }, () => rng.int(50257));
  estimateImportance(model, 16, s(), s(), { ...defaultImportanceConfig(16), rank: 4, steps: 4, batchSize: 2, seqLen: 16 }, join(dir, 'imp'), { log: () => {} });
  createEmulator(join(dir, 'model'), join(dir, 'imp'), { ...DEFAULT_EMULATOR }, join(dir, 'emu'));
  mc(join(dir, 'train.jsonl'), 40, 0);
  mc(join(dir, 'val.jsonl'), 8, 1);
  mc(join(dir, 'test.jsonl'), 8, 2);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function untouchedAdapter(out: string, method: 'full' | 'lora'): void {
  const { model, manifest } = loadEmulator(join(dir, 'emu'));
  const { named } = prepareAdapters(model, manifest.plan.adapters, method);
  writeAdapterPackage(out, join(dir, 'emu'), manifest, method, 1e-4, named(), DEFAULT_LORA);
}

test('plugging back an untouched adapter reproduces the full model\'s logits bit for bit', () => {
  for (const method of ['full', 'lora'] as const) {
    untouchedAdapter(join(dir, `untouched-${method}`), method);
    plugIn(join(dir, 'model'), join(dir, `untouched-${method}`), join(dir, `plugged-${method}`));
    const a = noGrad(() => loadModel(join(dir, 'model')).forward(ids, 1, 8)).data;
    const b = noGrad(() => loadModel(join(dir, `plugged-${method}`)).forward(ids, 1, 8)).data;
    assert.ok(Buffer.from(a.buffer).equals(Buffer.from(b.buffer)), `${method}: logits differ`);
  }
});

test('LoRA offsite tuning: the adapter package holds only deltas, and the merged plug-in equals the unmerged model', () => {
  const tasks = { train: loadTaskFile(join(dir, 'train.jsonl')), validation: loadTaskFile(join(dir, 'val.jsonl')), test: loadTaskFile(join(dir, 'test.jsonl')) };
  const r = offsiteTune(join(dir, 'emu'), tasks, join(dir, 'tuned'), { method: 'lora', lrs: [3e-2], steps: 30, batchSize: 4, log: () => {} });
  const adapter = r.adapterDir;
  const st = SafetensorsFile.open(join(adapter, 'adapter.safetensors'));
  assert.ok(st.names().every((n) => /\.lora_[AB]\.weight$/.test(n)), 'only LoRA deltas');
  st.close();
  const cfg = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'LORA');
  assert.equal(cfg.r, 4);
  assert.equal(cfg.fan_in_fan_out, true, "GPT-2's Conv1D stores (in, out)");
  // unmerged, in process
  const base = loadModel(join(dir, 'model'));
  const baseLogits = noGrad(() => base.forward(ids, 1, 8)).data.slice();
  const { manifest, tensors } = validateAdapter(base, adapter);
  attachAdapter(base, manifest, tensors);
  const unmerged = noGrad(() => base.forward(ids, 1, 8)).data;
  // merged checkpoint
  plugIn(join(dir, 'model'), adapter, join(dir, 'plugged-lora-tuned'));
  const merged = noGrad(() => loadModel(join(dir, 'plugged-lora-tuned')).forward(ids, 1, 8)).data;
  assertClose(merged, unmerged, 1e-5, 1e-5, 'merged vs unmerged');
  assert.ok(merged.some((v, i) => Math.abs(v - baseLogits[i]) > 1e-4), 'the tuned LoRA must change the model');
});

test('with a lossless emulator (α = 0, no SRC) the tuned adapters plugged in give exactly the Emu FT model', () => {
  // The whole offsite path (package, tuning, adapter package, validation, plug-in checkpoint
  // with the tuned blocks in float32) must lose nothing: Plug-in = Emu FT here.
  createEmulator(join(dir, 'model'), join(dir, 'imp'), { ...DEFAULT_EMULATOR, alpha: 0, noSrc: true }, join(dir, 'emu-lossless'));
  const tasks = { train: loadTaskFile(join(dir, 'train.jsonl')), validation: loadTaskFile(join(dir, 'val.jsonl')), test: loadTaskFile(join(dir, 'test.jsonl')) };
  for (const method of ['full', 'lora'] as const) {
    const r = offsiteTune(join(dir, 'emu-lossless'), tasks, join(dir, `tuned-lossless-${method}`), { method, lrs: [1e-2], steps: 10, batchSize: 4, log: () => {} });
    plugIn(join(dir, 'model'), r.adapterDir, join(dir, `plugged-lossless-${method}`));
    const plugged = noGrad(() => loadModel(join(dir, `plugged-lossless-${method}`)).forward(ids, 1, 8)).data;
    // The Emu FT model: the emulator with the adapter applied in process.
    const { model: emu } = loadEmulator(join(dir, 'emu-lossless'));
    const { manifest, tensors } = validateAdapter(loadModel(join(dir, 'model')), r.adapterDir);
    attachAdapter(emu, manifest, tensors);
    const emuFT = noGrad(() => emu.forward(ids, 1, 8)).data;
    assertClose(plugged, emuFT, method === 'full' ? 0 : 1e-5, method === 'full' ? 0 : 1e-5, `${method}: Plug-in vs Emu FT`);
    const base = noGrad(() => loadModel(join(dir, 'model')).forward(ids, 1, 8)).data;
    assert.ok(plugged.some((v, i) => Math.abs(v - base[i]) > 1e-4), `${method}: tuning changed the model`);
  }
});

function refused(adapter: string, pattern: RegExp): void {
  const out = join(dir, `refused-${Math.random().toString(36).slice(2)}`);
  assert.throws(() => plugIn(join(dir, 'model'), adapter, out), pattern);
  assert.ok(!existsSync(out), 'nothing may be written for a refused adapter');
}

test('a tampered adapter is refused and nothing is written', () => {
  const a = join(dir, 'tampered');
  untouchedAdapter(a, 'full');
  const b = readFileSync(join(a, 'adapter.safetensors'));
  b[b.length - 5] ^= 0x10;
  writeFileSync(join(a, 'adapter.safetensors'), b);
  refused(a, /adapter\.safetensors does not match its sha256 in the manifest/);
});

test('an adapter made for another model is refused', () => {
  const other = new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 99);
  saveCheckpoint(join(dir, 'other'), other.hfConfig, other.hfTensors());
  const a = join(dir, 'foreign');
  untouchedAdapter(a, 'full');
  assert.throws(() => plugIn(join(dir, 'other'), a, join(dir, 'never')), /made for a different model/);
  assert.ok(!existsSync(join(dir, 'never')));
});

test('a non-finite adapter is refused, naming the tensor', () => {
  const a = join(dir, 'nan');
  untouchedAdapter(a, 'full');
  const f = SafetensorsFile.open(join(a, 'adapter.safetensors'));
  const ts = f.names().map((name) => ({ name, dtype: 'F32' as const, shape: f.info(name).shape, data: f.readFloat32(name).slice() }));
  f.close();
  ts[0].data[0] = NaN;
  writeSafetensors(join(a, 'adapter.safetensors'), ts);
  // re-sign the file so only the value check can catch it
  const m = JSON.parse(readFileSync(join(a, 'manifest.json'), 'utf8'));
  m.files['adapter.safetensors'] = sha256File(join(a, 'adapter.safetensors'));
  writeFileSync(join(a, 'manifest.json'), JSON.stringify(m));
  refused(a, new RegExp(`tensor "${ts[0].name.replace(/\./g, '\\.')}" has a non-finite value`));
});

test('an adapter naming a non-adapter block is refused', () => {
  const a = join(dir, 'wrongblock');
  untouchedAdapter(a, 'full');
  const m = JSON.parse(readFileSync(join(a, 'manifest.json'), 'utf8'));
  m.adapter_blocks = [99];
  writeFileSync(join(a, 'manifest.json'), JSON.stringify(m));
  refused(a, /adapter_blocks \[99\] must be distinct block indices in \[0, 8\)/);
});
