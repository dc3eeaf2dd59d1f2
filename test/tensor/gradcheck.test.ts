// Every backward rule against central finite differences on the float64 path:
// f(x) = sum(op(x) * R), df/dx_i ~ (f(x + h e_i) - f(x - h e_i)) / 2h.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { decode } from '../helpers.js';
import { runners, opCases, caseInputs } from './op_cases.js';

for (const c of opCases) {
  test(`${c.name}: backward equals central finite differences (float64)`, () => {
    const { inputs, ints } = caseInputs(c, 'float64');
    const R = Float64Array.from(decode(c.cotangent));
    const f = (): number =>
      T.noGrad(() => {
        const out = runners[c.name](inputs, ints, c.params);
        let s = 0;
        for (let i = 0; i < out.size; i++) s += out.data[i] * R[i];
        return s;
      });

    for (const t of Object.values(inputs)) t.requiresGrad = true;
    const out = runners[c.name](inputs, ints, c.params);
    T.backward(out, new Tensor(R, out.shape));

    const h = 1e-6;
    for (const [k, t] of Object.entries(inputs)) {
      const analytic = t.grad!.data;
      let worst = 0, scale = 1e-3;
      for (let i = 0; i < t.size; i++) {
        const keep = t.data[i];
        t.data[i] = keep + h;
        const fp = f();
        t.data[i] = keep - h;
        const fm = f();
        t.data[i] = keep;
        const numeric = (fp - fm) / (2 * h);
        worst = Math.max(worst, Math.abs(numeric - analytic[i]));
        scale = Math.max(scale, Math.abs(numeric));
      }
      assert.ok(worst / scale < 1e-6, `${c.name} d/d${k}: max |numeric - analytic| = ${worst} (scale ${scale})`);
    }
  });
}
