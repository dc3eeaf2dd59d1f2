// Selective Rank Compression (ScaleOT Eqs. 6-7, METHOD.md): a weight W of a kept-but-not-
// adapter block is replaced by its best rank-r approximation U_r S_r V_rᵀ (Eckart-Young),
// r = max(1, round((1 - β) min(rows, cols))). Only the attention projections by default
// ("selective"); the FFN or both for the ablation of Fig. 3. Biases and norms stay. The
// result is stored as two factors when that is smaller than the dense matrix
// (r < rows·cols / (rows + cols)), else as the dense rank-r product; either way the
// emulator carries no more than rank r of the original weight.
import { Tensor } from '../../tensor/tensor.js';
import { linear } from '../../tensor/ops/matmul.js';
import { Module, Parameter } from '../../nn/module.js';
import { Linear } from '../../nn/layers.js';
import { svd } from '../../linalg/svd.js';
import { roundHalfEven } from '../../util/round.js';
import { linearPaths, type ArchitectureSpec, type LinearTarget } from '../../models/causal_lm.js';
import { getPath, setPath } from '../../nn/paths.js';

/** y = up(down(x)) + bias with down (r, in) and up (out, r): a rank-r linear layer. */
export class LowRankLinear extends Module {
  readonly down: Parameter;
  readonly up: Parameter;
  readonly bias: Parameter | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, readonly rank: number, bias: boolean) {
    super();
    this.down = Parameter.zeros([rank, inFeatures]);
    this.up = Parameter.zeros([outFeatures, rank]);
    this.bias = bias ? Parameter.zeros([outFeatures]) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(linear(x, this.down, null), this.up, this.bias); // (..., r) then (..., out)
  }
}

export function srcRank(rows: number, cols: number, beta: number): number {
  if (!(beta >= 0 && beta <= 1)) throw new RangeError(`SRC: β = ${beta} must be in [0, 1]`);
  return Math.max(1, roundHalfEven((1 - beta) * Math.min(rows, cols)));
}

export interface SrcReport {
  path: string;
  rows: number; // out
  cols: number; // in
  rank: number;
  stored: 'factors' | 'dense';
  /** Eckart-Young: sqrt(sum_{k>r} s_k^2) and s_{r+1}, from the float64 SVD. */
  frobeniusError: number;
  spectralError: number;
  parametersBefore: number;
  parametersAfter: number;
}

/** The weight as (out, in), whatever layout the layer stores it in. */
function weightOutIn(lin: Linear): Float64Array {
  const [a, b] = lin.weight.shape;
  const w = lin.weight.data;
  if (lin.layout === 'out_in') return Float64Array.from(w);
  const out = new Float64Array(a * b); // stored (in, out) -> transpose
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * a + i] = w[i * b + j];
  return out;
}

/** Compresses one linear layer to rank r; returns the replacement module and its report. */
export function compressLinear(lin: Linear, beta: number, path = ''): { module: Linear | LowRankLinear; report: SrcReport } {
  const out = lin.outFeatures, inn = lin.inFeatures;
  const r = srcRank(out, inn, beta);
  const s = svd(weightOutIn(lin), out, inn);
  let tail = 0;
  for (let k = r; k < s.k; k++) tail += s.S[k] * s.S[k];
  const report: SrcReport = {
    path, rows: out, cols: inn, rank: r, stored: r * (out + inn) < out * inn ? 'factors' : 'dense',
    frobeniusError: Math.sqrt(tail), spectralError: r < s.k ? s.S[r] : 0,
    parametersBefore: out * inn, parametersAfter: 0,
  };
  if (report.stored === 'factors') {
    const m = new LowRankLinear(inn, out, r, lin.bias !== null);
    for (let i = 0; i < out; i++) for (let q = 0; q < r; q++) m.up.data[i * r + q] = s.U[i * s.k + q] * s.S[q]; // U_r S_r
    for (let q = 0; q < r; q++) for (let j = 0; j < inn; j++) m.down.data[q * inn + j] = s.V[j * s.k + q]; // V_rᵀ
    if (lin.bias && m.bias) m.bias.data.set(lin.bias.data);
    report.parametersAfter = r * (out + inn);
    return { module: m, report };
  }
  // Dense rank-r product, written back in the layer's own layout.
  const m = new Linear(inn, out, { layout: lin.layout, bias: lin.bias !== null, init: false });
  for (let i = 0; i < out; i++) {
    for (let j = 0; j < inn; j++) {
      let v = 0;
      for (let q = 0; q < r; q++) v += s.U[i * s.k + q] * s.S[q] * s.V[j * s.k + q];
      if (lin.layout === 'out_in') m.weight.data[i * inn + j] = v;
      else m.weight.data[j * out + i] = v;
    }
  }
  if (lin.bias && m.bias) m.bias.data.set(lin.bias.data);
  report.parametersAfter = out * inn;
  return { module: m, report };
}

/** SRC(m_i, β) in place on a block: every targeted linear layer replaced by its rank-r form. */
export function applySrc(block: Module, spec: ArchitectureSpec, beta: number, target: LinearTarget = 'attn'): SrcReport[] {
  return linearPaths(spec, target).map((path) => {
    const lin = getPath(block, path);
    if (!(lin instanceof Linear)) throw new Error(`SRC: ${path} is not a dense linear layer (already compressed?)`);
    const { module, report } = compressLinear(lin, beta, path);
    setPath(block, path, module);
    return report;
  });
}
