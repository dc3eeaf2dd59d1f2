// The emulator package: METHOD.md's containment rule checked on the files themselves, the
// manifest's statements for β = 0 and --no-src, loading [A, E*], and refusal of a tampered
// package.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { estimateImportance, defaultImportanceConfig } from '../../src/offsite/scaleot/importance.js';
import { DEFAULT_EMULATOR } from '../../src/offsite/emulator.js';
import { createEmulator, loadEmulator } from '../../src/offsite/emulator_package.js';
import { srcRank } from '../../src/offsite/scaleot/src.js';
import { svd } from '../../src/linalg/svd.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { Rng } from '../../src/util/rng.js';

let dir = '';
let model: GPT2LMHeadModel;
const FILES = ['trunk.safetensors', 'adapters.safetensors', 'harmonizers.safetensors', 'compressed.safetensors'];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-emu-'));
  model = new GPT2LMHeadModel({ vocabSize: 64, nPositions: 32, nEmbd: 32, nLayer: 8, nHead: 4 }, 12);
  writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), model);
  const rng = new Rng(3);
  const s = () => Int32Array.from({ length: 1500 }, () => rng.int(64));
  estimateImportance(model, 32, s(), s(), { ...defaultImportanceConfig(32), rank: 4, steps: 8, batchSize: 2, seqLen: 16 }, join(dir, 'imp'), { log: () => {} });
});
after(() => rmSync(dir, { recursive: true, force: true }));

const digest = (a: Float32Array) => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

function allPackageTensors(pkg: string): { file: string; name: string; shape: number[]; data: Float32Array }[] {
  return FILES.flatMap((file) => {
    const f = SafetensorsFile.open(join(pkg, file));
    const out = f.names().map((name) => ({ file, name, shape: f.info(name).shape, data: f.readFloat32(name) }));
    f.close();
    return out;
  });
}

test('containment: no harmonized block weights anywhere; SRC targets only at rank r; the rest intact', () => {
  const pkg = join(dir, 'emu');
  const m = createEmulator(join(dir, 'model'), join(dir, 'imp'), { ...DEFAULT_EMULATOR, numAdapters: 4, alpha: 0.25, beta: 0.8 }, pkg);
  assert.equal(m.plan.adapters.length, 4);
  assert.equal(m.plan.harmonized.length, 2);
  assert.equal(m.plan.compressed.length, 2);
  const stored = allPackageTensors(pkg);
  const original = new Map(model.hfTensors().map((t) => [t.name, t]));
  // 1. nothing of a harmonized block, by name or by content
  const harmonizedDigests = new Set<string>();
  for (const i of m.plan.harmonized) {
    // constant tensors (zero biases, unit norms at init) carry nothing to leak
    for (const [name, t] of original) if (name.startsWith(`transformer.h.${i}.`) && t.data.some((v) => v !== t.data[0])) harmonizedDigests.add(digest(t.data));
  }
  for (const t of stored) {
    for (const i of m.plan.harmonized) assert.ok(!t.name.startsWith(`transformer.h.${i}.`), `${t.file} holds ${t.name}`);
    assert.ok(!harmonizedDigests.has(digest(t.data)), `${t.file}:${t.name} equals a harmonized block's weight`);
  }
  // 2. SRC blocks: attention weights only as rank-r factors (or dense of rank <= r); FFN, norms, biases intact
  for (const i of m.plan.compressed) {
    const p = `transformer.h.${i}.`;
    for (const [path, rows, cols] of [['attn.c_attn', 96, 32], ['attn.c_proj', 32, 32]] as const) {
      const r = srcRank(rows, cols, 0.8);
      assert.ok(!stored.some((t) => t.name === `${p}${path}.weight`), `${path}.weight must not ship for block ${i}`);
      const down = stored.find((t) => t.name === `${p}${path}.down`)!;
      const up = stored.find((t) => t.name === `${p}${path}.up`)!;
      assert.deepEqual(down.shape, [r, cols]);
      assert.deepEqual(up.shape, [rows, r]);
    }
    for (const name of ['mlp.c_fc.weight', 'mlp.c_proj.weight', 'ln_1.weight', 'attn.c_attn.bias']) {
      const t = stored.find((x) => x.name === p + name)!;
      assert.deepEqual(t.data, original.get(p + name)!.data, `${name} of block ${i} should ship unchanged`);
    }
  }
  // 3. adapters and trunk in full
  for (const i of m.plan.adapters) assert.deepEqual(stored.find((t) => t.name === `transformer.h.${i}.attn.c_attn.weight`)!.data, original.get(`transformer.h.${i}.attn.c_attn.weight`)!.data);
  assert.ok(stored.some((t) => t.name === 'transformer.wte.weight'));
  assert.ok(m.parameters.relative_size < 1);
  assert.equal(m.compressed_blocks_in_full, false);
});

test('dense storage when factors would not be smaller still has numerical rank <= r', () => {
  const pkg = join(dir, 'emu-dense');
  const m = createEmulator(join(dir, 'model'), join(dir, 'imp'), { ...DEFAULT_EMULATOR, beta: 0.2 }, pkg);
  const f = SafetensorsFile.open(join(pkg, 'compressed.safetensors'));
  for (const i of m.plan.compressed) {
    const w = f.readFloat32(`transformer.h.${i}.attn.c_proj.weight`); // (32, 32), r = 26 > 16: dense
    const r = srcRank(32, 32, 0.2);
    const s = svd(w, 32, 32);
    for (let k = r; k < 32; k++) assert.ok(s.S[k] < 1e-5 * s.S[0], `block ${i}: singular value ${k} = ${s.S[k]} beyond rank ${r}`);
  }
  f.close();
});

test('β = 0 and --no-src ship the other blocks in full, and the manifest says so', () => {
  for (const [name, settings] of [['beta0', { ...DEFAULT_EMULATOR, beta: 0 }], ['nosrc', { ...DEFAULT_EMULATOR, noSrc: true }]] as const) {
    const m = createEmulator(join(dir, 'model'), join(dir, 'imp'), settings, join(dir, name));
    assert.equal(m.compressed_blocks_in_full, true);
    assert.ok(m.statements.some((s) => /ship in full/.test(s)));
    const f = SafetensorsFile.open(join(dir, name, 'compressed.safetensors'));
    for (const i of m.plan.compressed) assert.ok(f.has(`transformer.h.${i}.attn.c_attn.weight`));
    f.close();
  }
});

test('the emulator loads and runs; a tampered package is refused', () => {
  const pkg = join(dir, 'emu');
  const { model: emu, manifest } = loadEmulator(pkg);
  const ids = Int32Array.from([1, 2, 3, 4, 5, 6]);
  const a = noGrad(() => emu.forward(ids, 1, 6)).data;
  const b = noGrad(() => model.forward(ids, 1, 6)).data;
  assert.ok(a.every(Number.isFinite));
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-4), 'the emulator differs from the full model');
  assert.equal(manifest.plan.roles.length, 8);
  const bytes = readFileSync(join(pkg, 'adapters.safetensors'));
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(join(pkg, 'adapters.safetensors'), bytes);
  assert.throws(() => loadEmulator(pkg), /adapters\.safetensors does not match its sha256/);
});
