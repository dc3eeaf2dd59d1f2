// Op outputs come from allocateOutput (unzeroed memory): each must be an array of its own,
// of the requested length, and under the test runner filled with NaN so that a kernel
// reading its output before writing it cannot pass by luck.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allocateOutput, randn } from '../../src/tensor/tensor.js';
import { gelu } from '../../src/tensor/ops/activation.js';
import { Rng } from '../../src/util/rng.js';

test('allocateOutput: own buffer, exact length, float32 and float64, empty arrays', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    for (const n of [0, 1, 7, 1 << 16]) {
      const a = allocateOutput(n, dtype), b = allocateOutput(n, dtype);
      assert.equal(a.length, n);
      assert.equal(a.byteOffset, 0);
      assert.equal(a.buffer.byteLength, n * (dtype === 'float64' ? 8 : 4));
      assert.ok(dtype === 'float64' ? a instanceof Float64Array : a instanceof Float32Array);
      assert.notEqual(a.buffer, b.buffer);
    }
  }
});

test('under the test runner outputs start as NaN, and an op overwrites every element', () => {
  assert.equal(process.env.SCALEOT_POISON_OUTPUTS, '1', 'scripts/run-tests.mjs sets SCALEOT_POISON_OUTPUTS=1');
  const fresh = allocateOutput(1000, 'float32');
  assert.ok(fresh.every((v) => Number.isNaN(v)));
  const y = gelu(randn([10, 100], new Rng(0)));
  assert.ok(y.data.every((v) => Number.isFinite(v)));
});
