// Each fast kernel set (AVX-512, AVX2, portable — whichever this CPU runs) against the
// naive reference kernels on the same inputs, including ragged edges of every blocking
// level, transposes, beta accumulation, batching and multi-threaded sizes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../src/tensor/native.js';
import { Rng } from '../../src/util/rng.js';
import { assertClose } from '../helpers.js';

const initial = native.getKernels();
const modes = native.cpuFeatures().split(' ');

function rand(n: number, rng: Rng, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (rng.uniform() * 2 - 1) * scale;
  return a;
}

/** Runs fn under the reference kernels and under `mode`, returning both results. */
function both<T>(mode: string, fn: () => T): [T, T] {
  native.setKernels('reference');
  const ref = fn();
  native.setKernels(mode);
  const fast = fn();
  native.setKernels(initial);
  return [ref, fast];
}

for (const mode of modes) {
  test(`${mode}: sgemm matches the reference on ragged shapes, all transposes, alpha and beta`, () => {
    const rng = new Rng(1);
    const shapes = [[1, 1, 1], [7, 13, 5], [13, 33, 17], [37, 70, 300], [200, 150, 300], [193, 65, 257], [1, 300, 64], [300, 1, 64]];
    for (const [M, N, K] of shapes) {
      for (const ta of [0, 1]) for (const tb of [0, 1]) for (const [alpha, beta] of [[1, 0], [0.5, 0.75]]) {
        const A = rand(M * K, rng), B = rand(K * N, rng), C0 = rand(M * N, rng);
        const [ref, fast] = both(mode, () => {
          const C = C0.slice();
          native.gemm(ta, tb, M, N, K, alpha, A, ta ? M : K, B, tb ? K : N, beta, C, N, 1, 0, 0, 0);
          return C;
        });
        assertClose(fast, ref, 1e-5, 1e-5 * Math.sqrt(K), `gemm ${M}x${N}x${K} ta=${ta} tb=${tb} beta=${beta}`);
      }
    }
  });

  test(`${mode}: sgemm with a fused bias matches gemm + bias`, () => {
    const rng = new Rng(6);
    for (const [M, N, K, tb] of [[37, 70, 300, 0], [200, 150, 300, 1], [5, 33, 7, 1]]) {
      const A = rand(M * K, rng), B = rand(K * N, rng), bias = rand(N, rng);
      const [ref, fast] = both(mode, () => {
        const C = new Float32Array(M * N);
        native.gemmBias(0, tb, M, N, K, A, K, B, tb ? K : N, bias, C, N);
        return C;
      });
      assertClose(fast, ref, 1e-5, 1e-5 * Math.sqrt(K), `gemmBias ${M}x${N}x${K} tb=${tb}`);
    }
  });

  test(`${mode}: batched sgemm with strides and a shared operand`, () => {
    const rng = new Rng(2);
    const [batch, M, N, K] = [6, 20, 24, 40];
    const A = rand(batch * M * K, rng), B = rand(K * N, rng);
    const [ref, fast] = both(mode, () => {
      const C = new Float32Array(batch * M * N);
      native.gemm(0, 0, M, N, K, 1, A, K, B, N, 0, C, N, batch, M * K, 0, M * N);
      return C;
    });
    assertClose(fast, ref, 1e-5, 1e-5, 'batched gemm');
  });

  test(`${mode}: attention forward/backward (causal, grouped heads, KV cache) match the reference, float32 and bf16 products`, () => {
    const rng = new Rng(3);
    for (const bf16 of [0, 1]) for (const [B, Hq, Hkv, Tq, Tk, D] of [[2, 4, 2, 70, 70, 16], [1, 4, 1, 5, 80, 8], [2, 2, 2, 130, 130, 64], [1, 1, 1, 1, 1, 4]]) {
      const q = rand(B * Hq * Tq * D, rng), k = rand(B * Hkv * Tk * D, rng), v = rand(B * Hkv * Tk * D, rng);
      const gout = rand(B * Hq * Tq * D, rng);
      const scale = 1 / Math.sqrt(D);
      const [ref, fast] = both(mode, () => {
        const out = new Float32Array(q.length), P = new Float32Array(B * Hq * Tq * Tk);
        const view = (a: Float32Array, H: number, T: number) => [a, 0, H * T * D, T * D, D] as const;
        native.attentionForward(B, Hq, Hkv, Tq, Tk, D, scale, ...view(q, Hq, Tq), ...view(k, Hkv, Tk), ...view(v, Hkv, Tk), ...view(out, Hq, Tq), P, bf16);
        const gq = new Float32Array(q.length), gk = new Float32Array(k.length), gv = new Float32Array(v.length);
        native.attentionBackward(B, Hq, Hkv, Tq, Tk, D, scale, ...view(q, Hq, Tq), ...view(k, Hkv, Tk), ...view(v, Hkv, Tk), P,
          ...view(gout, Hq, Tq), ...view(gq, Hq, Tq), ...view(gk, Hkv, Tk), ...view(gv, Hkv, Tk), bf16);
        return { out, P, gq, gk, gv };
      });
      const what = `attention B${B} Hq${Hq} Hkv${Hkv} Tq${Tq} Tk${Tk} D${D}${bf16 ? ' bf16' : ''}`;
      // bf16: both sides round the same operands, but a value summed in another order can
      // land on the other side of a bf16 rounding boundary when it is rounded again (P for
      // PV, dS for dQ and dK), a 2^-9 relative step in one term (seen: 1.5e-5 absolute in
      // dQ). Ten times the float32 tolerance still fails float32 products (measured: their
      // gap to the bf16 reference is 14-280x the float32 tolerance).
      const [rtol, atol] = bf16 ? [1e-3, 1e-4] : [1e-4, 1e-5];
      for (const key of ['out', 'P', 'gq', 'gk', 'gv'] as const) assertClose(fast[key], ref[key], rtol, atol, `${what} ${key}`);
    }
  });

  test(`${mode}: layernorm, cross-entropy, activations, axpy and AdamW match the reference`, () => {
    const rng = new Rng(4);
    const [N, C] = [700, 100]; // enough rows for the threaded path
    const x = rand(N * C, rng, 3), w = rand(C, rng), b = rand(C, rng), gy = rand(N * C, rng);
    const [lnRef, lnFast] = both(mode, () => {
      const y = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N);
      native.layernormForward(N, C, x, w, b, 1e-5, y, mean, rstd);
      const gx = new Float32Array(N * C), gw = new Float32Array(C), gb = new Float32Array(C);
      native.layernormBackward(N, C, x, w, mean, rstd, gy, gx, gw, gb);
      return { y, gx, gw, gb };
    });
    for (const key of ['y', 'gx', 'gw', 'gb'] as const) assertClose(lnFast[key], lnRef[key], 1e-4, 1e-5, `layernorm ${key}`);
    const [rmsRef, rmsFast] = both(mode, () => {
      const y = new Float32Array(N * C), rstd = new Float32Array(N);
      native.rmsnormForward(N, C, x, w, 1e-6, y, rstd);
      const gx = new Float32Array(N * C), gw = new Float32Array(C);
      native.rmsnormBackward(N, C, x, w, rstd, gy, gx, gw);
      return { y, gx, gw };
    });
    for (const key of ['y', 'gx', 'gw'] as const) assertClose(rmsFast[key], rmsRef[key], 1e-4, 1e-5, `rmsnorm ${key}`);

    const [R, V] = [9, 1003];
    const logits = rand(R * V, rng, 8);
    const targets = Int32Array.from([0, 5, -1, 1002, 17, 3, -1, 999, 500]);
    const g = rand(R, rng);
    const [ceRef, ceFast] = both(mode, () => {
      const losses = new Float32Array(R), lse = new Float32Array(R), gl = new Float32Array(R * V);
      native.crossEntropyForward(R, V, logits, targets, losses, lse);
      native.crossEntropyBackward(R, V, logits, targets, lse, g, gl);
      return { losses, lse, gl };
    });
    for (const key of ['losses', 'lse', 'gl'] as const) assertClose(ceFast[key], ceRef[key], 1e-5, 1e-6, `cross-entropy ${key}`);

    const n = 100003; // odd length: vector body plus scalar tail, multi-threaded
    const xs = rand(n, rng, 6), gys = rand(n, rng);
    const positive = xs.map((v) => Math.abs(v) + 0.1);
    for (const [name, op, input] of [['neg', 0, xs], ['exp', 1, xs], ['log', 2, positive], ['sqrt', 3, positive], ['scale', 4, xs],
      ['addScalar', 5, xs], ['relu', 6, xs], ['gelu', 7, xs], ['silu', 8, xs], ['tanh', 9, xs], ['sigmoid', 10, xs],
      ['square', 11, xs]] as const) {
      const [r, f] = both(mode, () => {
        const y = new Float32Array(n);
        native.unary(op, n, input, y, 0.37);
        return y;
      });
      assertClose(f, r, 4e-6, 1e-6, `unary ${name}`);
    }
    for (const [name, op] of [['relu', 6], ['gelu', 7], ['silu', 8], ['tanh', 9], ['sigmoid', 10]] as const) {
      const [r, f] = both(mode, () => {
        const gx = new Float32Array(n);
        native.activationBackward(op, n, xs, gys, gx);
        return gx;
      });
      assertClose(f, r, 1e-5, 1e-6, `activation backward ${name}`);
    }
    const [ar, af] = both(mode, () => {
      const y = gys.slice();
      native.axpy(n, -0.3, xs, y);
      return y;
    });
    assertClose(af, ar, 1e-6, 1e-7, 'axpy');
    const [adRef, adFast] = both(mode, () => {
      const p = xs.slice(), m = gys.slice(), v2 = positive.slice();
      native.adamwStep(n, p, gys, m, v2, 1 - 1e-3 * 0.01, 0.9, 0.1, 0.999, 0.001, 1e-3 / 0.1, Math.sqrt(0.001), 1e-8);
      return { p, m, v2 };
    });
    for (const key of ['p', 'm', 'v2'] as const) assertClose(adFast[key], adRef[key], 1e-6, 1e-7, `adamw ${key}`);
  });

  test(`${mode}: results do not depend on the thread count`, () => {
    const rng = new Rng(5);
    const [M, N, K] = [150, 170, 260];
    const A = rand(M * K, rng), B = rand(K * N, rng);
    native.setKernels(mode);
    const threads = native.getNumThreads();
    const run = () => {
      const C = new Float32Array(M * N);
      native.gemm(0, 1, M, N, K, 1, A, K, B, K, 0, C, N, 1, 0, 0, 0);
      return C;
    };
    native.setNumThreads(1);
    const one = run();
    native.setNumThreads(Math.max(2, threads));
    const many = run();
    native.setNumThreads(threads);
    native.setKernels(initial);
    assert.ok(Buffer.from(one.buffer).equals(Buffer.from(many.buffer)), 'gemm differs between 1 and several threads');
  });
}

test('unknown or unavailable kernel sets are refused with a clear error', () => {
  assert.throws(() => native.setKernels('sse9'), /unknown kernel set 'sse9'/);
  assert.equal(native.getKernels(), initial);
});
