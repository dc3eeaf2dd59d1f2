// The strided fused-QKV attention (GPT-2's path) equals splitting, permuting and calling
// the contiguous attention op, forward and backward, in both precisions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as T from '../../src/tensor/index.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/util/rng.js';
import { assertClose } from '../helpers.js';

function composed(qkv: Tensor, H: number): Tensor {
  const [B, Tn, C3] = qkv.shape;
  const C = C3 / 3, D = C / H;
  const head = (i: number) => T.permute(T.reshape(T.slice(qkv, 2, i * C, (i + 1) * C), [B, Tn, H, D]), [0, 2, 1, 3]);
  const y = T.causalAttention(head(0), head(1), head(2));
  return T.reshape(T.permute(y, [0, 2, 1, 3]), [B, Tn, C]);
}

for (const dtype of ['float32', 'float64'] as const) {
  test(`fusedQKVAttention equals the composed split/permute path (${dtype})`, () => {
    const rng = new Rng(21);
    for (const [B, Tn, H, D] of [[2, 7, 3, 4], [1, 70, 2, 16], [3, 1, 1, 8]]) {
      const base = T.randn([B, Tn, 3 * H * D], rng, 1, dtype);
      const R = T.randn([B, Tn, H * D], rng, 1, dtype);
      const run = (f: (x: Tensor) => Tensor) => {
        const x = base.clone();
        x.requiresGrad = true;
        const y = f(x);
        T.backward(T.sum(T.mul(y, R)));
        return { y: y.data, g: x.grad!.data };
      };
      const a = run((x) => T.fusedQKVAttention(x, H));
      const b = run((x) => composed(x, H));
      const [rtol, atol] = dtype === 'float32' ? [1e-5, 1e-6] : [1e-12, 1e-13];
      assertClose(a.y, b.y, rtol, atol, `output B${B} T${Tn} H${H} D${D}`);
      assertClose(a.g, b.g, rtol, atol, `gradient B${B} T${Tn} H${H} D${D}`);
    }
  });
}

// Inference runs the kernel without the saved probabilities (a per-thread row block
// instead); its output must be the very same numbers, including KV-cache shapes (Tk > Tq)
// and sequences longer than one 64-row block.
for (const dtype of ['float32', 'float64'] as const) {
  test(`attention under noGrad equals the recorded forward bitwise (${dtype})`, () => {
    const rng = new Rng(22);
    for (const [B, Hq, Hkv, Tq, Tk, D] of [[2, 4, 2, 7, 7, 8], [1, 2, 2, 150, 150, 16], [2, 2, 1, 3, 90, 8]]) {
      const q = T.randn([B, Hq, Tq, D], rng, 1, dtype);
      const k = T.randn([B, Hkv, Tk, D], rng, 1, dtype);
      const v = T.randn([B, Hkv, Tk, D], rng, 1, dtype);
      q.requiresGrad = true;
      const recorded = T.causalAttention(q, k, v);
      const inference = T.noGrad(() => T.causalAttention(q, k, v));
      assert.equal(inference.gradFn, null);
      assert.deepEqual(Array.from(inference.data), Array.from(recorded.data), `B${B} Hq${Hq} Hkv${Hkv} Tq${Tq} Tk${Tk}`);
    }
    const qkv = T.randn([2, 130, 3 * 2 * 8], rng, 1, dtype);
    qkv.requiresGrad = true;
    const recorded = T.fusedQKVAttention(qkv, 2);
    const inference = T.noGrad(() => T.fusedQKVAttention(qkv, 2));
    assert.deepEqual(Array.from(inference.data), Array.from(recorded.data), 'fused QKV, T 130');
  });
}
