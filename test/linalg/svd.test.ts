// Float64 SVD: reconstruction to 1e-10 relative, orthonormal U and V, on random, tall,
// wide, rank-deficient and vector inputs; and Eckart-Young for the truncation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { svd, lowRank, SVDResult } from '../../src/linalg/svd.js';
import { Rng } from '../../src/util/rng.js';
import { join } from 'node:path';
import { loadModel } from '../../src/models/load.js';

function randomMatrix(m: number, n: number, rng: Rng): Float64Array {
  const a = new Float64Array(m * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return a;
}

/** (m, r) x (r, n) product: rank <= r. */
function lowRankMatrix(m: number, n: number, r: number, rng: Rng): Float64Array {
  const x = randomMatrix(m, r, rng), y = randomMatrix(r, n, rng);
  const a = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let k = 0; k < r; k++) for (let j = 0; j < n; j++) a[i * n + j] += x[i * r + k] * y[k * n + j];
  return a;
}

function frob(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

function checkOrthonormal(Q: Float64Array, rows: number, k: number, what: string): void {
  let worst = 0;
  for (let a = 0; a < k; a++)
    for (let b = a; b < k; b++) {
      let d = 0;
      for (let i = 0; i < rows; i++) d += Q[i * k + a] * Q[i * k + b];
      worst = Math.max(worst, Math.abs(d - (a === b ? 1 : 0)));
    }
  assert.ok(worst < 1e-10, `${what}: |QᵀQ - I| max ${worst}`);
}

function check(A: Float64Array, m: number, n: number, what: string): SVDResult {
  const s = svd(A, m, n);
  const R = lowRank(s, s.k);
  const diff = R.map((v, i) => v - A[i]);
  const rel = frob(diff) / Math.max(frob(A), 1e-300);
  assert.ok(rel < 1e-10, `${what}: reconstruction relative error ${rel}`);
  checkOrthonormal(s.U, m, s.k, `${what} U`);
  checkOrthonormal(s.V, n, s.k, `${what} V`);
  for (let i = 0; i < s.k; i++) {
    assert.ok(s.S[i] >= 0, `${what}: negative singular value`);
    if (i > 0) assert.ok(s.S[i] <= s.S[i - 1], `${what}: singular values not descending`);
  }
  return s;
}

test('SVD of random square, tall and wide matrices', () => {
  const rng = new Rng(11);
  check(randomMatrix(20, 20, rng), 20, 20, 'square');
  check(randomMatrix(40, 12, rng), 40, 12, 'tall');
  check(randomMatrix(9, 33, rng), 9, 33, 'wide');
});

test('SVD of rank-deficient matrices reports the rank and keeps U, V orthonormal', () => {
  const rng = new Rng(12);
  for (const [m, n, r] of [[30, 20, 5], [15, 40, 3], [12, 12, 1]]) {
    const s = check(lowRankMatrix(m, n, r, rng), m, n, `rank-${r} ${m}x${n}`);
    assert.ok(s.S[r - 1] > 1e-6 * s.S[0], 'expected rank present');
    for (let i = r; i < s.k; i++) assert.ok(s.S[i] < 1e-12 * s.S[0], `singular value ${i} = ${s.S[i]} should vanish`);
  }
  const zero = svd(new Float64Array(12), 3, 4);
  assert.deepEqual(Array.from(zero.S), [0, 0, 0]);
  checkOrthonormal(zero.U, 3, 3, 'zero U');
  checkOrthonormal(zero.V, 4, 3, 'zero V');
});

test('SVD of 1×n and n×1 matrices', () => {
  const rng = new Rng(13);
  const row = randomMatrix(1, 7, rng);
  const s1 = check(row, 1, 7, '1x7');
  assert.ok(Math.abs(s1.S[0] - frob(row)) < 1e-12 * frob(row));
  const col = randomMatrix(6, 1, rng);
  const s2 = check(col, 6, 1, '6x1');
  assert.ok(Math.abs(s2.S[0] - frob(col)) < 1e-12 * frob(col));
  check(Float64Array.from([-3]), 1, 1, '1x1');
});

test('truncation error follows Eckart-Young (Frobenius and spectral)', () => {
  const rng = new Rng(14);
  const m = 25, n = 18, A = randomMatrix(m, n, rng);
  const s = svd(A, m, n);
  for (const r of [1, 5, 17]) {
    const Ar = lowRank(s, r);
    const E = A.map((v, i) => v - Ar[i]);
    let tail = 0;
    for (let i = r; i < s.k; i++) tail += s.S[i] ** 2;
    assert.ok(Math.abs(frob(E) - Math.sqrt(tail)) < 1e-10 * frob(A), `Frobenius error at rank ${r}`);
    // spectral norm of E = its largest singular value = sigma_{r+1}
    const sE = svd(E, m, n);
    assert.ok(Math.abs(sE.S[0] - s.S[r]) < 1e-10 * s.S[0], `spectral error at rank ${r}: ${sE.S[0]} vs ${s.S[r]}`);
  }
});

test('SVD refuses non-finite input and bad shapes with a clear error', () => {
  assert.throws(() => svd([1, NaN, 2, 3], 2, 2), /non-finite value at \(0, 1\)/);
  assert.throws(() => svd([1, 2, 3], 2, 2), /3 values for a \(2, 2\) matrix/);
});

test('SVD converges on a trained weight that once stalled the Jacobi sweeps (base-24m block 12 c_attn)', () => {
  // With an orthogonality threshold of eps alone the sweeps never settled on this matrix
  // (rounding in a 576-long dot product exceeds it); the threshold is now sqrt(rows) eps.
  const model = loadModel(join('models', 'scaleot-base-24m'));
  const w = new Map(model.namedParameters()).get('transformer.h.12.attn.c_attn.weight')!;
  const [m, n] = w.shape;
  check(Float64Array.from(w.data), m, n, 'base-24m h.12.attn.c_attn');
});
