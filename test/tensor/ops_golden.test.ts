// Every op's forward and backward against PyTorch (float64 reference computed from the
// same float32 inputs): float32 path to a float32-sized tolerance, float64 path tightly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { decode, decodeTensor, assertClose } from '../helpers.js';
import { runners, opCases, caseInputs, OpCase } from './op_cases.js';

function runCase(c: OpCase, dtype: 'float32' | 'float64') {
  const { inputs, ints } = caseInputs(c, dtype);
  for (const t of Object.values(inputs)) t.requiresGrad = true;
  const out = runners[c.name](inputs, ints, c.params);
  const R = decodeTensor(c.cotangent, dtype);
  const objective = T.sum(T.reshape(T.mul(out, T.reshape(R, out.shape)), [out.size]));
  T.backward(objective);
  return { out, inputs };
}

test('every fixture case has a runner and every runner a case', () => {
  const names = opCases.map((c) => c.name).sort();
  assert.deepEqual(names, Object.keys(runners).sort());
});

for (const c of opCases) {
  for (const dtype of ['float32', 'float64'] as const) {
    test(`${c.name} matches PyTorch (${dtype})`, () => {
      const { out, inputs } = runCase(c, dtype);
      assert.deepEqual([...out.shape], c.output.shape, 'output shape');
      assert.equal(out.dtype, dtype);
      // float32 tolerances: a few ulps of the largest intermediate; float64: near exact.
      const [rtol, atol] = dtype === 'float32' ? [2e-5, 2e-5] : [1e-10, 1e-11];
      assertClose(out.data, decode(c.output) as Float64Array, rtol, atol, `${c.name} output`);
      for (const [k, g] of Object.entries(c.grads)) {
        const grad = inputs[k].grad;
        assert.ok(grad, `${c.name}: no gradient for ${k}`);
        assertClose(grad.data, decode(g) as Float64Array, rtol, atol, `${c.name} d/d${k}`);
      }
    });
  }
}
