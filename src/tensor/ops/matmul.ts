// Matrix products. matmul(a, b) multiplies the last two axes, with optional transposes
// read in place (no copies): a (..., M, K) or its transpose, b (..., K, N), (K, N), or
// their transposes. A 2-D b is shared by every batch entry (a weight matrix).
import { native } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, ShapeError, allocateOutput, formatShape, assertSameDType, shapesEqual } from '../tensor.js';
import { sumTo } from './reduce.js';

/**
 * The precision of matrix products (PyTorch's CPU autocast rule for matmuls and linear
 * layers): 'fp32', or 'bf16' = operands rounded to bfloat16, products accumulated in
 * float32, float32 results (native gemmBf16). Everything else (norms, softmax, losses,
 * reductions, optimizer state, master weights, gradient accumulation) stays float32, and
 * float64 tensors (the finite-difference reference path) are never rounded. A backward
 * pass uses the precision its forward ran with.
 *
 * Who decides, for training loops (trainLoop: fine-tuning, offsite tuning, importance
 * estimation, distillation): a command's `--precision` (withTrainingPrecision), else an
 * enclosing withMatmulPrecision or SCALEOT_PRECISION (fp32, bf16 or auto), else bf16 where
 * the CPU multiplies bf16 natively (AVX512-BF16) and fp32 elsewhere, as the parity
 * measurements allow (README, "Mixed precision"). For everything else (scoring, eval,
 * generate): an enclosing withMatmulPrecision or SCALEOT_PRECISION, else fp32, so
 * evaluation stays harness-exact. Configurations that must reproduce (experiments,
 * pre-training) pin their own precision.
 */
export type MatmulPrecision = 'fp32' | 'bf16';

/** bf16 where this CPU runs VDPBF16PS, else fp32 (the emulated path is slower than fp32). */
export function nativeBf16Default(): MatmulPrecision {
  return native.bf16Path() === 'vdpbf16ps' ? 'bf16' : 'fp32';
}

function precisionFromEnv(): MatmulPrecision | undefined {
  const v = process.env.SCALEOT_PRECISION;
  if (v === undefined || v === '') return undefined;
  if (v === 'fp32' || v === 'bf16') return v;
  if (v === 'auto') return nativeBf16Default();
  throw new Error(`SCALEOT_PRECISION must be fp32, bf16 or auto, got ${JSON.stringify(v)}`);
}

/** undefined: nobody chose; matmulPrecision() and trainingPrecision() apply their defaults. */
let precision: MatmulPrecision | undefined = precisionFromEnv();

/** The precision matrix products run in now (ops with their own products, attention, follow it). */
export function matmulPrecision(): MatmulPrecision {
  return precision ?? 'fp32';
}

/** A command's choice for its training loops only (`--precision`); scoring keeps matmulPrecision(). */
let trainingChoice: MatmulPrecision | undefined;

/** The precision a training loop runs in when its configuration does not say. */
export function trainingPrecision(): MatmulPrecision {
  return trainingChoice ?? precision ?? nativeBf16Default();
}

/** Runs fn with its training loops in precision p (scoring inside fn is not affected). */
export function withTrainingPrecision<T>(p: MatmulPrecision, fn: () => T): T {
  const before = trainingChoice;
  trainingChoice = p;
  try {
    return fn();
  } finally {
    trainingChoice = before;
  }
}

/** Runs fn with matrix products in precision p (restored afterwards, also on errors). */
export function withMatmulPrecision<T>(p: MatmulPrecision, fn: () => T): T {
  const before = precision;
  precision = p;
  try {
    return fn();
  } finally {
    precision = before;
  }
}

/**
 * C = op(A) op(B) + beta C (batched), in the current precision for float32 operands: every
 * matrix product of the library goes through here (matmul, linear, the LM-head loss). A B
 * held in bf16 (Uint16Array bits: weights for inference) always takes the bf16 product,
 * the precision such a model runs in, as a bf16 model does under torch.autocast.
 */
export function gemm(ta: number, tb: number, M: number, N: number, K: number, A: Tensor['data'], lda: number, B: Tensor['data'] | Uint16Array, ldb: number, beta: number,
  C: Tensor['data'], ldc: number, batch: number, sA: number, sB: number, sC: number, bias: Tensor['data'] | null = null): void {
  if (B instanceof Uint16Array) {
    if (!(A instanceof Float32Array) || !(C instanceof Float32Array) || (bias && !(bias instanceof Float32Array))) {
      throw new TypeError('gemm: a weight held in bf16 multiplies float32 operands only');
    }
    native.gemmBf16(ta, tb, M, N, K, 1, A, lda, B, ldb, beta, C, ldc, batch, sA, sB, sC, bias as Float32Array | null);
  } else if (matmulPrecision() === 'bf16' && A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array) {
    native.gemmBf16(ta, tb, M, N, K, 1, A, lda, B, ldb, beta, C, ldc, batch, sA, sB, sC, bias as Float32Array | null);
  } else if (bias) {
    native.gemmBias(ta, tb, M, N, K, A, lda, B, ldb, bias, C, ldc);
  } else {
    native.gemm(ta, tb, M, N, K, 1, A, lda, B, ldb, beta, C, ldc, batch, sA, sB, sC);
  }
}

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

interface Plan {
  batchShape: number[];
  batch: number;
  M: number;
  N: number;
  K: number;
  bShared: boolean;
}

function plan(a: Tensor, b: Tensor, ta: boolean, tb: boolean): Plan {
  if (a.ndim < 2 || b.ndim < 2) throw new ShapeError(`matmul: needs >= 2-d operands, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  const M = ta ? a.shape[a.ndim - 1] : a.shape[a.ndim - 2];
  const K = ta ? a.shape[a.ndim - 2] : a.shape[a.ndim - 1];
  const Kb = tb ? b.shape[b.ndim - 1] : b.shape[b.ndim - 2];
  const N = tb ? b.shape[b.ndim - 2] : b.shape[b.ndim - 1];
  const what = `${formatShape(a.shape)}${ta ? 'ᵀ' : ''} @ ${formatShape(b.shape)}${tb ? 'ᵀ' : ''}`;
  if (K !== Kb) throw new ShapeError(`matmul: inner dimensions differ in ${what}`);
  const batchShape = a.shape.slice(0, -2);
  const bBatch = b.shape.slice(0, -2);
  const bShared = b.ndim === 2;
  if (!bShared && !shapesEqual(batchShape, bBatch)) throw new ShapeError(`matmul: batch dimensions differ in ${what}`);
  const batch = batchShape.reduce((p, d) => p * d, 1);
  return { batchShape, batch, M, N, K, bShared };
}

/** A matrix product's B operand: float values, or the bits of a weight held in bf16. */
export function bOperand(b: Tensor): Tensor['data'] | Uint16Array {
  return b.bf16 ?? b.data;
}

function gemmInto(a: Tensor, b: Tensor, ta: boolean, tb: boolean, p: Plan, out: Tensor, beta: number): void {
  const lda = a.shape[a.ndim - 1];
  const ldb = b.shape[b.ndim - 1];
  if (p.bShared && !ta) {
    // Fold the batch into M: one big product with the shared matrix.
    gemm(0, tb ? 1 : 0, p.batch * p.M, p.N, p.K, a.data, lda, bOperand(b), ldb, beta, out.data, p.N, 1, 0, 0, 0);
    return;
  }
  gemm(ta ? 1 : 0, tb ? 1 : 0, p.M, p.N, p.K, a.data, lda, bOperand(b), ldb, beta, out.data, p.N, p.batch,
    p.M * p.K, p.bShared ? 0 : p.K * p.N, p.M * p.N);
}

export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  assertSameDType('matmul', a, b);
  const ta = !!opts.transA, tb = !!opts.transB;
  const p = plan(a, b, ta, tb);
  const out = new Tensor(allocateOutput(p.batch * p.M * p.N, a.dtype), [...p.batchShape, p.M, p.N]);
  gemmInto(a, b, ta, tb, p, out, 0);
  const prec = matmulPrecision();
  return record('matmul', out, [a, b], (g) => withMatmulPrecision(prec, () => {
    // C = op(A) op(B):  d op(A) = G op(B)ᵀ,  d op(B) = op(A)ᵀ G; undo the op on each side.
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (a.requiresGrad) {
      if (!ta) ga = matmul(g, b, { transB: !tb });
      else if (p.bShared) ga = batchedWithShared(b, g, tb, p);
      else ga = matmul(b, g, { transA: tb, transB: true });
    }
    if (b.requiresGrad) {
      if (p.bShared) {
        // Sum over the batch: fold batch into the contraction axis.
        const a2 = flattenBatch(a, ta);
        const g2 = new Tensor(g.data, [p.batch * p.M, p.N]);
        gb = tb ? matmul(g2, a2, { transA: true }) : matmul(a2, g2, { transA: true });
      } else {
        gb = tb ? matmul(g, a, { transA: true, transB: ta }) : matmul(a, g, { transA: !ta });
      }
    }
    return [ga, gb];
  }));
}

/** a as a (batch*M, K) matrix; a transposed a is copied into that layout first. */
function flattenBatch(a: Tensor, ta: boolean): Tensor {
  const K = ta ? a.shape[a.ndim - 2] : a.shape[a.ndim - 1];
  if (!ta) return new Tensor(a.data, [a.size / K, K]);
  const M = a.shape[a.ndim - 1];
  const batch = a.size / (M * K);
  const out = new Tensor(allocateOutput(a.size, a.dtype), [batch * M, K]);
  native.permute(Int32Array.from([batch, K, M]), Int32Array.from([0, 2, 1]), a.data, out.data);
  return out;
}

/** dA for C = Aᵀ op(B) with A batched and B shared: dA[b] = op(B) G[b]ᵀ -> (K, M) per batch. */
function batchedWithShared(b: Tensor, g: Tensor, tb: boolean, p: Plan): Tensor {
  const out = new Tensor(allocateOutput(p.batch * p.K * p.M, g.dtype), [...p.batchShape, p.K, p.M]);
  const ldb = b.shape[1];
  gemm(tb ? 1 : 0, 1, p.K, p.M, p.N, b.data, ldb, g.data, p.N, 0, out.data, p.M, p.batch, 0, p.M * p.N, p.K * p.M);
  return out;
}

/**
 * y = x W^T + b with W stored (out, in) as torch.nn.Linear, or y = x W + b with W stored
 * (in, out) as GPT-2's Conv1D (`weightLayout: 'in_out'`).
 */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null, weightLayout: 'out_in' | 'in_out' = 'out_in'): Tensor {
  const transB = weightLayout === 'out_in';
  if (!bias) return matmul(x, weight, { transB });
  assertSameDType('linear', x, weight, bias);
  if (weight.ndim !== 2) throw new ShapeError(`linear: weight must be 2-d, got ${formatShape(weight.shape)}`);
  const [inDim, outDim] = transB ? [weight.shape[1], weight.shape[0]] : [weight.shape[0], weight.shape[1]];
  if (x.ndim < 1 || x.shape[x.ndim - 1] !== inDim) throw new ShapeError(`linear: input ${formatShape(x.shape)} for weight ${formatShape(weight.shape)} (${weightLayout})`);
  if (bias.ndim !== 1 || bias.shape[0] !== outDim) throw new ShapeError(`linear: bias ${formatShape(bias.shape)} for ${outDim} outputs`);
  // One pass: the bias is added inside the GEMM's store instead of a second sweep.
  const rows = x.size / inDim;
  const out = new Tensor(allocateOutput(rows * outDim, x.dtype), [...x.shape.slice(0, -1), outDim]);
  gemm(0, transB ? 1 : 0, rows, outDim, inDim, x.data, inDim, bOperand(weight), transB ? inDim : outDim, 0, out.data, outDim, 1, 0, 0, 0, bias.data);
  const prec = matmulPrecision();
  return record('linear', out, [x, weight, bias], (g) => withMatmulPrecision(prec, () => {
    const g2 = new Tensor(g.data, [rows, outDim]);
    const x2 = new Tensor(x.data, [rows, inDim]);
    // y = x Wᵀ (out_in) or x W (in_out)
    const gx = x.requiresGrad ? matmul(g, weight, { transB: !transB }) : null;
    const gw = weight.requiresGrad ? (transB ? matmul(g2, x2, { transA: true }) : matmul(x2, g2, { transA: true })) : null;
    const gb = bias.requiresGrad ? sumTo(g2, [outDim]) : null;
    return [gx, gw, gb];
  }));
}

