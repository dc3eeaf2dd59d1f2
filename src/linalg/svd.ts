// Float64 singular value decomposition (one-sided Jacobi, native/kernels/svd.h), for
// Selective Rank Compression: A (m, n) = U (m, k) diag(S) V(n, k)^T, k = min(m, n).
import { native } from '../tensor/native.js';

export interface SVDResult {
  m: number;
  n: number;
  k: number;
  /** (m, k) row-major, orthonormal columns. */
  U: Float64Array;
  /** (k), descending, non-negative. */
  S: Float64Array;
  /** (n, k) row-major, orthonormal columns. */
  V: Float64Array;
}

export function svd(A: ArrayLike<number>, m: number, n: number): SVDResult {
  if (!(Number.isInteger(m) && Number.isInteger(n) && m >= 1 && n >= 1)) throw new RangeError(`svd: bad shape (${m}, ${n})`);
  if (A.length !== m * n) throw new RangeError(`svd: ${A.length} values for a (${m}, ${n}) matrix`);
  const a = Float64Array.from(A);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new RangeError(`svd: non-finite value at (${Math.floor(i / n)}, ${i % n})`);
  }
  const k = Math.min(m, n);
  const U = new Float64Array(m * k), S = new Float64Array(k), V = new Float64Array(n * k);
  const sweeps = native.svd(m, n, a, U, S, V);
  if (sweeps < 0) throw new Error(`svd: Jacobi iteration did not converge for a (${m}, ${n}) matrix`);
  return { m, n, k, U, S, V };
}

/** Best rank-r approximation U_r S_r V_r^T (Eckart-Young), as a row-major (m, n) array. */
export function lowRank(s: SVDResult, r: number): Float64Array {
  const rank = Math.min(r, s.k);
  const out = new Float64Array(s.m * s.n);
  for (let i = 0; i < s.m; i++)
    for (let q = 0; q < rank; q++) {
      const u = s.U[i * s.k + q] * s.S[q];
      if (u === 0) continue;
      for (let j = 0; j < s.n; j++) out[i * s.n + j] += u * s.V[j * s.k + q];
    }
  return out;
}
