// Broadcast arithmetic, through both the (rows, cols) fast path and the general N-d
// kernel, against a direct JavaScript evaluation of NumPy broadcasting.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/util/rng.js';

function expected(a: Tensor, b: Tensor, f: (x: number, y: number) => number): number[] {
  const out = T.broadcastShapes(a.shape, b.shape);
  const n = out.reduce((p, d) => p * d, 1);
  const res: number[] = [];
  const offset = (t: Tensor, idx: number[]) => {
    let o = 0, s = 1;
    for (let i = t.ndim - 1; i >= 0; i--) {
      const oi = idx[out.length - t.ndim + i];
      o += (t.shape[i] === 1 ? 0 : oi) * s;
      s *= t.shape[i];
    }
    return o;
  };
  for (let k = 0; k < n; k++) {
    const idx: number[] = [];
    let r = k;
    for (let i = out.length - 1; i >= 0; i--) {
      idx[i] = r % out[i];
      r = Math.floor(r / out[i]);
    }
    res.push(f(a.data[offset(a, idx)], b.data[offset(b, idx)]));
  }
  return res;
}

const pairs: [number[], number[]][] = [
  [[2, 3, 4], [2, 3, 4]], [[2, 3, 4], [4]], [[4], [2, 3, 4]], [[2, 3, 4], [1, 3, 4]], [[2, 3, 4], [2, 3, 1]],
  [[2, 3, 1], [2, 3, 4]], [[2, 3, 4], [1]], [[1], [5]], [[2, 3, 4], []], [[2, 1, 4], [1, 3, 1]], [[3, 1], [2, 3, 4]],
  [[5, 70], [70]], [[300, 257], [300, 257]], [[300, 257], [300, 1]],
];

for (const dtype of ['float32', 'float64'] as const) {
  test(`broadcast add/sub/mul/div agree with direct evaluation (${dtype})`, () => {
    const rng = new Rng(8);
    for (const [sa, sb] of pairs) {
      const a = T.randn(sa, rng, 1, dtype), b = T.add(T.randn(sb, rng, 0.1, dtype), T.full(sb, 2, dtype));
      const ops: [string, (x: Tensor, y: Tensor) => Tensor, (x: number, y: number) => number][] = [
        ['add', T.add, (x, y) => x + y], ['sub', T.sub, (x, y) => x - y], ['mul', T.mul, (x, y) => x * y], ['div', T.div, (x, y) => x / y],
      ];
      for (const [name, op, f] of ops) {
        const got = op(a, b);
        const want = expected(a, b, dtype === 'float32' ? (x, y) => Math.fround(f(x, y)) : f);
        assert.deepEqual(got.toArray(), want, `${name} ${JSON.stringify(sa)} ${JSON.stringify(sb)}`);
      }
    }
  });
}
