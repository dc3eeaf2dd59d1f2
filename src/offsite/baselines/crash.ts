// CRaSh (Zhang et al. 2023; METHOD.md "Baselines"): OT's adapter placement; the middle
// blocks are clustered by the linear CKA of their mean-pooled outputs on D^V, merging the
// adjacent pair of clusters with the highest similarity (average CKA over member pairs)
// until K clusters remain; each cluster keeps its centre block and the other slots share
// (reuse) the nearest kept block's weights.
import type { CausalLM, Block, BlockContext } from '../../models/causal_lm.js';
import type { Tensor } from '../../tensor/tensor.js';
import { noGrad } from '../../tensor/autograd.js';
import { ModuleList } from '../../nn/module.js';
import { Rng } from '../../util/rng.js';
import { join } from 'node:path';
import { writeJsonAtomic } from '../../io/atomic.js';
import { buildBaselineEmulator } from '../emulator.js';
import type { OffsiteMethod } from '../methods.js';
import { otAdapters, otMiddle, BaselinePlan } from './uniform_drop.js';

/** A copy of a (samples n, features d) matrix with every feature's mean subtracted. */
function centreColumns(A: Float64Array, n: number, d: number): Float64Array {
  const c = Float64Array.from(A);
  for (let j = 0; j < d; j++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += c[i * d + j];
    m /= n;
    for (let i = 0; i < n; i++) c[i * d + j] -= m;
  }
  return c;
}

/** Linear CKA of two (samples, features) matrices, each centred per feature. */
export function linearCka(X: Float64Array, Y: Float64Array, n: number, dx: number, dy: number): number {
  const x = centreColumns(X, n, dx), y = centreColumns(Y, n, dy);
  // ||Yᵀ X||_F² / (||Xᵀ X||_F ||Yᵀ Y||_F)
  const cross = (A: Float64Array, da: number, B: Float64Array, db: number) => {
    let s = 0;
    for (let a = 0; a < da; a++)
      for (let b = 0; b < db; b++) {
        let v = 0;
        for (let i = 0; i < n; i++) v += A[i * da + a] * B[i * db + b];
        s += v * v;
      }
    return s;
  };
  const num = cross(y, dy, x, dx);
  const den = Math.sqrt(cross(x, dx, x, dx)) * Math.sqrt(cross(y, dy, y, dy));
  return den > 0 ? num / den : 0;
}

/**
 * Mean-pooled output of every block on `samples` windows of D^V: (samples, C) each. The
 * windows run through the model `batch` at a time; which windows are drawn depends on the
 * seed only.
 */
export function blockOutputs(model: CausalLM, dV: Int32Array, samples: number, seqLen: number, seed = 0, batch = 16): Float64Array[] {
  if (dV.length < seqLen + 1) throw new RangeError(`CRaSh: D^V has ${dV.length} tokens, fewer than one window of ${seqLen}`);
  const n = model.blocks.length;
  const rng = new Rng(seed);
  const starts = Array.from({ length: samples }, () => rng.int(dV.length - seqLen));
  const blocks = model.blocks as ModuleList<Block>;
  let C = 0;
  const collected: Float64Array[][] = Array.from({ length: n }, () => []);
  // Wrap each block to record its output, run the model, then restore.
  const originals = [...blocks];
  try {
    originals.forEach((b, i) => {
      const rec = Object.create(b) as Block;
      rec.forward = (x: Tensor, ctx?: BlockContext) => {
        const y = b.forward(x, ctx);
        const [B, T, D] = y.shape;
        C = D;
        for (let s = 0; s < B; s++) {
          const v = new Float64Array(D);
          for (let t = 0; t < T; t++) for (let d = 0; d < D; d++) v[d] += y.data[(s * T + t) * D + d] / T;
          collected[i].push(v);
        }
        return y;
      };
      blocks.set(i, rec);
    });
    noGrad(() => {
      for (let first = 0; first < samples; first += batch) {
        const group = starts.slice(first, first + batch);
        const ids = new Int32Array(group.length * seqLen);
        group.forEach((start, k) => ids.set(dV.subarray(start, start + seqLen), k * seqLen));
        model.forward(ids, group.length, seqLen);
      }
    });
  } finally {
    originals.forEach((b, i) => blocks.set(i, b));
  }
  return collected.map((rows) => {
    const m = new Float64Array(samples * C);
    rows.forEach((v, s) => m.set(v, s * C));
    return m;
  });
}

/**
 * The centred Gram matrix K = X_c X_cᵀ (samples × samples) of a (samples, features) matrix.
 * Linear CKA(X, Y) = ⟨K_X, K_Y⟩_F / (‖K_X‖_F ‖K_Y‖_F), the same value as linearCka's
 * feature-space formula, but each block's Gram is computed once for all pairs.
 */
export function centredGram(X: Float64Array, n: number, d: number): Float64Array {
  const c = centreColumns(X, n, d);
  const K = new Float64Array(n * n);
  for (let a = 0; a < n; a++)
    for (let b = a; b < n; b++) {
      let v = 0;
      for (let k = 0; k < d; k++) v += c[a * d + k] * c[b * d + k];
      K[a * n + b] = v;
      K[b * n + a] = v;
    }
  return K;
}

/** Pairwise linear CKA of the blocks' outputs (1 on the diagonal). */
export function ckaMatrix(outs: Float64Array[], samples: number): number[][] {
  const n = outs.length;
  const C = outs[0].length / samples;
  const grams = outs.map((X) => centredGram(X, samples, C));
  const dot = (A: Float64Array, B: Float64Array) => {
    let s = 0;
    for (let k = 0; k < A.length; k++) s += A[k] * B[k];
    return s;
  };
  const norms = grams.map((K) => Math.sqrt(dot(K, K)));
  const cka = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++)
    for (let j = i; j < n; j++) {
      const den = norms[i] * norms[j];
      const v = i === j ? 1 : den > 0 ? dot(grams[i], grams[j]) / den : 0;
      cka[i][j] = v;
      cka[j][i] = v;
    }
  return cka;
}

/** CRaSh's plan from block-output similarities (cka[i][j] for middle blocks). */
export function crashPlanFromCka(n: number, numRemoved: number, cka: number[][], numAdapters = 4): BaselinePlan {
  const adapters = otAdapters(n, numAdapters);
  let clusters: number[][] = otMiddle(n, numAdapters).map((i) => [i]);
  const K = clusters.length - numRemoved;
  if (K < 1) throw new RangeError(`CRaSh: removing ${numRemoved} of ${clusters.length} middle blocks leaves none`);
  const sim = (a: number[], b: number[]) => {
    let s = 0;
    for (const i of a) for (const j of b) s += cka[i][j];
    return s / (a.length * b.length);
  };
  while (clusters.length > K) {
    let best = 0, bestSim = -Infinity;
    for (let c = 0; c + 1 < clusters.length; c++) {
      const v = sim(clusters[c], clusters[c + 1]);
      if (v > bestSim) (bestSim = v), (best = c); // ties: the earlier pair
    }
    clusters = [...clusters.slice(0, best), [...clusters[best], ...clusters[best + 1]], ...clusters.slice(best + 2)];
  }
  const kept: number[] = [];
  const shared: Record<number, number> = {};
  for (const c of clusters) {
    const centre = c[Math.floor((c.length - 1) / 2)];
    kept.push(centre);
    for (const b of c) if (b !== centre) shared[b] = centre;
  }
  return { adapters, kept, dropped: [], shared };
}

/**
 * CRaSh's similarity sample: 256 windows of D^V (CKA between 192-wide outputs from a few
 * dozen samples is dominated by sampling noise), or every disjoint window where D^V is smaller.
 */
export const CRASH_SAMPLES = 256;

/** CRaSh end to end: block outputs on D^V, pairwise CKA, clustering. */
export function crashPlan(model: CausalLM, dV: Int32Array, numRemoved: number, opts: { samples?: number; seqLen?: number; numAdapters?: number } = {}): { plan: BaselinePlan; cka: number[][]; samples: number; seqLen: number } {
  const n = model.blocks.length;
  const T = Math.min(opts.seqLen ?? 128, model.maxContext);
  const samples = opts.samples ?? Math.max(1, Math.min(CRASH_SAMPLES, Math.floor(dV.length / T)));
  const cka = ckaMatrix(blockOutputs(model, dV, samples, T), samples);
  return { plan: crashPlanFromCka(n, numRemoved, cka, opts.numAdapters), cka, samples, seqLen: T };
}

/** CRaSh in the method registry: CKA of block outputs on D^V, clustering, shared slots. */
export const crashMethod: OffsiteMethod = {
  name: 'crash',
  label: 'CRaSh',
  needs: { dv: true },
  settings: (base) => ({ ...base, noSrc: false }),
  build: (ctx) => {
    const model = ctx.loadModel();
    const { plan, cka, samples, seqLen } = crashPlan(model, ctx.dV(), ctx.numRemoved, { numAdapters: ctx.settings.numAdapters });
    ctx.log(`CRaSh: linear CKA of block outputs on ${samples} windows of D^V`);
    ctx.recordCost({ forwardTokens: samples * seqLen });
    writeJsonAtomic(join(ctx.workDir, 'cka.json'), { samples, cka });
    return buildBaselineEmulator(model, 'crash', plan);
  },
};
