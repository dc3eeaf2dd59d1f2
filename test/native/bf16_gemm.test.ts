// The mixed-precision GEMM (bf16 operands, float32 accumulation) against a JavaScript
// reference that rounds each operand to bfloat16 (nearest even) and sums the exact products
// in float32, k in order. The naive kernel set (SCALEOT_KERNELS=reference) must equal it bit
// for bit; the fast paths (VDPBF16PS, and float32 FMAs on rounded operands where the CPU
// lacks AVX512-BF16) sum in another order and must agree to float32 rounding (1e-5 of the
// sum of |products|), be deterministic, and not depend on the thread count.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { native } from '../../src/tensor/native.js';

function bf16(x: number): number {
  const f = new Float32Array([x]), u = new Uint32Array(f.buffer);
  if ((u[0] & 0x7f800000) === 0x7f800000 && u[0] & 0x007fffff) return x;
  u[0] = ((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000) >>> 0;
  return f[0];
}

interface Case { ta: number; tb: number; M: number; N: number; K: number; alpha: number; beta: number; bias: boolean; batch: number }

function operands(c: Case, seed: number) {
  const r = (i: number) => Math.sin(seed * 7.31 + i * 1.618) * (1 + (i % 5));
  const sa = c.M * c.K + 3, sb = c.K * c.N + 5, sc = c.M * c.N + 2;
  return {
    A: Float32Array.from({ length: sa * c.batch }, (_, i) => r(i)),
    B: Float32Array.from({ length: sb * c.batch }, (_, i) => r(i + 1e5) / 3),
    C: Float32Array.from({ length: sc * c.batch }, (_, i) => r(i + 2e5)),
    bias: c.bias ? Float32Array.from({ length: c.N }, (_, i) => r(i + 3e5)) : null,
    sa, sb, sc,
  };
}

/** The reference result and, per element, the sum of |products| (the scale of rounding errors). */
function reference(c: Case, o: ReturnType<typeof operands>) {
  const out = Float32Array.from(o.C), scale = new Float64Array(o.C.length);
  const lda = c.ta ? c.M : c.K, ldb = c.tb ? c.K : c.N;
  for (let e = 0; e < c.batch; e++)
    for (let i = 0; i < c.M; i++)
      for (let j = 0; j < c.N; j++) {
        let s = 0, abs = 0;
        for (let p = 0; p < c.K; p++) {
          const a = bf16(o.A[e * o.sa + (c.ta ? p * lda + i : i * lda + p)]), b = bf16(o.B[e * o.sb + (c.tb ? j * ldb + p : p * ldb + j)]);
          s = Math.fround(s + Math.fround(a * b));
          abs += Math.abs(a * b);
        }
        const k = e * o.sc + i * c.N + j;
        out[k] = Math.fround(Math.fround(c.beta === 0 ? 0 : Math.fround(c.beta * o.C[k])) + Math.fround(c.alpha * s));
        if (o.bias) out[k] = Math.fround(out[k] + o.bias[j]);
        scale[k] = Math.abs(c.alpha) * abs + Math.abs(c.beta * o.C[k]) + (o.bias ? Math.abs(o.bias[j]) : 0);
      }
  return { out, scale };
}

function run(c: Case, o: ReturnType<typeof operands>): Float32Array {
  const C = Float32Array.from(o.C);
  native.gemmBf16(c.ta, c.tb, c.M, c.N, c.K, c.alpha, o.A, c.ta ? c.M : c.K, o.B, c.tb ? c.K : c.N, c.beta, C, c.N, c.batch, o.sa, o.sb, o.sc, o.bias);
  return C;
}

const CASES: Case[] = [];
for (const ta of [0, 1]) for (const tb of [0, 1]) {
  CASES.push({ ta, tb, M: 37, N: 70, K: 257, alpha: 1, beta: 0, bias: false, batch: 1 });
  CASES.push({ ta, tb, M: 13, N: 33, K: 3, alpha: 0.5, beta: 0.25, bias: true, batch: 3 });
}
CASES.push({ ta: 0, tb: 0, M: 1, N: 1, K: 1, alpha: 1, beta: 0, bias: false, batch: 1 });
CASES.push({ ta: 0, tb: 1, M: 130, N: 96, K: 512, alpha: 1, beta: 1, bias: true, batch: 1 });

function check(got: Float32Array, want: { out: Float32Array; scale: Float64Array }, label: string, exact = false) {
  for (let k = 0; k < got.length; k++) {
    const tol = exact ? 0 : 1e-5 * want.scale[k] + 1e-30;
    assert.ok(Math.abs(got[k] - want.out[k]) <= tol, `${label} [${k}]: ${got[k]} vs reference ${want.out[k]} (tolerance ${tol})`);
  }
}

test(`bf16 GEMM (${native.bf16Path()} path) matches the rounding reference to float32 rounding in every transpose case, with alpha, beta, bias and batches`, () => {
  for (const c of CASES) {
    const o = operands(c, c.M + c.K);
    check(run(c, o), reference(c, o), JSON.stringify(c));
  }
});

test('bf16 GEMM is deterministic and independent of the thread count, and rounds (it is not the float32 product)', () => {
  const c: Case = { ta: 0, tb: 1, M: 130, N: 96, K: 512, alpha: 1, beta: 0, bias: true, batch: 1 };
  const o = operands(c, 3);
  const threads = native.getNumThreads();
  const a = run(c, o), b = run(c, o);
  native.setNumThreads(1);
  const one = run(c, o);
  native.setNumThreads(threads);
  assert.deepEqual(b, a);
  assert.deepEqual(one, a);
  const f32 = Float32Array.from(o.C);
  native.gemm(0, 1, c.M, c.N, c.K, 1, o.A, c.K, o.B, c.K, 0, f32, c.N, 1, 0, 0, 0);
  assert.ok(a.some((v, k) => Math.abs(v - (f32[k] + o.bias![k % c.N])) > 1e-4), 'bf16 operands change the result');
});

test('the naive kernels equal the reference bit for bit, and the emulated path agrees with the VDPBF16PS one', () => {
  const script = `import('./dist/src/tensor/native.js').then(({ native }) => {
    const c = JSON.parse(process.argv[1]);
    const r = (i) => Math.sin(5 * 7.31 + i * 1.618) * (1 + (i % 5));
    const A = Float32Array.from({ length: c.M * c.K }, (_, i) => r(i)), B = Float32Array.from({ length: c.K * c.N }, (_, i) => r(i + 1e5) / 3);
    const C = new Float32Array(c.M * c.N);
    native.gemmBf16(0, 0, c.M, c.N, c.K, 1, A, c.K, B, c.N, 0, C, c.N, 1, 0, 0, 0, null);
    console.log(JSON.stringify({ path: native.bf16Path(), C: Array.from(C) }));
  })`;
  const c: Case = { ta: 0, tb: 0, M: 21, N: 40, K: 129, alpha: 1, beta: 0, bias: false, batch: 1 };
  const child = (env: Record<string, string>) => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(c)], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as { path: string; C: number[] };
  };
  const r = (i: number) => Math.sin(5 * 7.31 + i * 1.618) * (1 + (i % 5));
  const o = { A: Float32Array.from({ length: c.M * c.K }, (_, i) => r(i)), B: Float32Array.from({ length: c.K * c.N }, (_, i) => r(i + 1e5) / 3), C: new Float32Array(c.M * c.N), bias: null, sa: 0, sb: 0, sc: 0 };
  const want = reference(c, o);
  const ref = child({ SCALEOT_KERNELS: 'reference' });
  assert.equal(ref.path, 'reference');
  check(Float32Array.from(ref.C), want, 'reference kernels', true);
  const emulated = child({ SCALEOT_BF16: 'emulate' });
  assert.equal(emulated.path, native.bf16Path() === 'reference' ? 'reference' : 'emulated');
  check(Float32Array.from(emulated.C), want, 'emulated path');
  check(Float32Array.from(child({}).C), want, `${native.bf16Path()} path`);
});

test(`bf16 GEMM (${native.bf16Path()} path) rounds operands to nearest even exactly like the reference, in every transpose case`, () => {
  // op(B) = identity: C = bf16(op(A)) exactly (one exact product per element), so any
  // difference in operand rounding shows. Values at and around bf16 ties (1 + 2^-8 is a tie
  // that rounds down to even, 1 + 3 * 2^-8 one that rounds up), negative, large and small.
  const M = 29, K = 45;
  const specials = [1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1 + 2 ** -8 + 2 ** -20, 3.14159, -2.5e30, 1.5e-30, 65504.7, 0];
  const aRows = Float32Array.from({ length: M * K }, (_, i) => specials[i % specials.length] * (1 + (i % 3) * 2 ** -4));
  for (const ta of [0, 1]) for (const tb of [0, 1]) {
    const A = ta ? Float32Array.from({ length: M * K }, (_, i) => aRows[(i % M) * K + Math.floor(i / M)]) : aRows;
    const B = new Float32Array(K * K); // identity in either layout
    for (let k = 0; k < K; k++) B[k * K + k] = 1;
    const C = new Float32Array(M * K);
    native.gemmBf16(ta, tb, M, K, K, 1, A, ta ? M : K, B, K, 0, C, K, 1, 0, 0, 0, null);
    for (let i = 0; i < M * K; i++) assert.equal(C[i], Math.fround(bf16(aRows[i])), `ta ${ta} tb ${tb} [${i}]: bf16(${aRows[i]})`);
  }
});

/** bf16 bit patterns of x (round to nearest even), as weights held in bf16 are stored. */
function bf16Bits(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length), f = new Float32Array(1), u = new Uint32Array(f.buffer);
  for (let i = 0; i < x.length; i++) {
    f[0] = bf16(x[i]);
    out[i] = u[0] >>> 16;
  }
  return out;
}

test('bf16 GEMM with B held as bf16 bits equals it with B as float32, bit for bit, on every kernel path and transpose case', () => {
  // The bits expand to float32 exactly and rounding an exact bf16 value changes nothing, so
  // each path must give the very same numbers for both forms of B (packing differs only).
  const script = `import('./dist/src/tensor/native.js').then(({ native }) => {
    const cases = JSON.parse(process.argv[1]);
    const out = cases.map((c) => {
      const r = (i) => Math.sin(c.K * 7.31 + i * 1.618) * (1 + (i % 5));
      const sa = c.M * c.K + 3, sb = c.K * c.N + 5, sc = c.M * c.N + 2;
      const A = Float32Array.from({ length: sa * c.batch }, (_, i) => r(i));
      const B = Float32Array.from({ length: sb * c.batch }, (_, i) => r(i + 1e5) / 3);
      const bits = new Uint16Array(B.length), rounded = new Float32Array(B.length), u = new Uint32Array(rounded.buffer);
      const f = new Float32Array(1), fu = new Uint32Array(f.buffer);
      for (let i = 0; i < B.length; i++) {
        f[0] = B[i];
        const w = ((fu[0] + 0x7fff + ((fu[0] >>> 16) & 1)) & 0xffff0000) >>> 0;
        bits[i] = w >>> 16;
        u[i] = w;
      }
      const bias = c.bias ? Float32Array.from({ length: c.N }, (_, i) => r(i + 3e5)) : null;
      const C0 = Float32Array.from({ length: sc * c.batch }, (_, i) => r(i + 2e5));
      const go = (b) => {
        const C = Float32Array.from(C0);
        native.gemmBf16(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A, c.ta ? c.M : c.K, b, c.tb ? c.K : c.N, c.beta, C, c.N, c.batch, sa, sb, sc, bias);
        return Array.from(C);
      };
      const a = go(rounded), b = go(bits);
      // Compared here: the arrays themselves would overflow the pipe's buffer.
      return a.findIndex((v, k) => !Object.is(v, b[k]));
    });
    console.log(JSON.stringify({ path: native.bf16Path(), out }));
  })`;
  for (const env of [{ SCALEOT_KERNELS: 'reference' }, { SCALEOT_BF16: 'emulate' }, {}] as Record<string, string>[]) {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, JSON.stringify(CASES)], { env: { ...process.env, ...env }, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout) as { path: string; out: number[] };
    got.out.forEach((firstDiff, i) => assert.equal(firstDiff, -1, `${got.path} path, case ${JSON.stringify(CASES[i])}: first differing element`));
  }
  // And in this process: bits against the rounding reference.
  for (const c of CASES) {
    const o = operands(c, c.M + c.K);
    const C = Float32Array.from(o.C);
    native.gemmBf16(c.ta, c.tb, c.M, c.N, c.K, c.alpha, o.A, c.ta ? c.M : c.K, bf16Bits(o.B), c.tb ? c.K : c.N, c.beta, C, c.N, c.batch, o.sa, o.sb, o.sc, o.bias);
    check(C, reference(c, o), `bits ${JSON.stringify(c)}`);
  }
});

test('gemmBf16 refuses a B of the wrong element type with a clear error', () => {
  const A = new Float32Array(4), C = new Float32Array(4);
  assert.throws(() => native.gemmBf16(0, 0, 2, 2, 2, 1, A, 2, new Int32Array(4) as unknown as Uint16Array, 2, 0, C, 2, 1, 0, 0, 0, null), /B: wrong element type/);
  assert.throws(() => native.gemmBf16(0, 0, 2, 2, 2, 1, A, 2, new Uint16Array(3), 2, 0, C, 2, 1, 0, 0, 0, null), /B: needs 4 elements/);
});
