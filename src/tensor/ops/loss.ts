// Fused softmax cross-entropy over the vocabulary (one kernel forward, one backward; the
// probabilities are recomputed from the saved log-sum-exp instead of being stored), and
// log-softmax for scoring.
import { native, UnaryOp } from '../native.js';
import { bOperand, gemm } from './matmul.js';
import { record, needsGrad } from '../autograd.js';
import { Tensor, ShapeError, allocate, formatShape } from '../tensor.js';

export interface CrossEntropyOptions {
  /** 'mean' over non-ignored targets (torch's default), 'sum', or 'none' (per row). */
  reduction?: 'mean' | 'sum' | 'none';
  /** Targets equal to this are ignored; torch's default is -100. Any negative id is ignored. */
  ignoreIndex?: number;
}

/**
 * Targets for the kernels: ignored rows (ignoreIndex or any negative id) become -1, the
 * rest are checked against the vocabulary. Returns them with the count of scored rows.
 */
function kernelTargets(op: string, targets: Int32Array, V: number, ignoreIndex = -100): { t: Int32Array; count: number } {
  const t = new Int32Array(targets.length);
  let count = 0;
  for (let i = 0; i < targets.length; i++) {
    const id = targets[i];
    if (id === ignoreIndex || id < 0) t[i] = -1;
    else {
      if (id >= V) throw new ShapeError(`${op}: target ${id} at row ${i} outside vocabulary of ${V}`);
      t[i] = id;
      count++;
    }
  }
  return { t, count };
}

/** logits: (N, V) or (..., V); targets: one id per row. */
export function crossEntropy(logits: Tensor, targets: Int32Array, opts: CrossEntropyOptions = {}): Tensor {
  const V = logits.shape[logits.ndim - 1];
  const N = logits.size / V;
  if (targets.length !== N) throw new ShapeError(`crossEntropy: ${targets.length} targets for logits ${formatShape(logits.shape)}`);
  const { t, count } = kernelTargets('crossEntropy', targets, V, opts.ignoreIndex);
  const losses = allocate(N, logits.dtype), lse = allocate(N, logits.dtype);
  native.crossEntropyForward(N, V, logits.data, t, losses, lse);
  const reduction = opts.reduction ?? 'mean';
  let out: Tensor;
  if (reduction === 'none') {
    out = new Tensor(losses, logits.shape.slice(0, -1));
  } else {
    let s = 0; // fixed-order double accumulation
    for (let i = 0; i < N; i++) s += losses[i];
    const value = reduction === 'mean' ? (count > 0 ? s / count : NaN) : s;
    out = new Tensor(allocate(1, logits.dtype), []);
    out.data[0] = value;
  }
  return record('crossEntropy', out, [logits], (g) => {
    const rowGrad = allocate(N, logits.dtype);
    if (reduction === 'none') rowGrad.set(g.data);
    else rowGrad.fill(reduction === 'mean' ? g.data[0] / count : g.data[0]);
    const gl = new Tensor(allocate(logits.size, logits.dtype), logits.shape);
    native.crossEntropyBackward(N, V, logits.data, t, lse, rowGrad, gl.data);
    return [gl];
  });
}

export interface LinearCrossEntropyOptions {
  ignoreIndex?: number; // default -100; any negative target is ignored
  /** Rows of logits computed at a time; default: as many as fit in 64 MiB (at least 16). */
  chunkRows?: number;
}

/**
 * Mean cross-entropy of the logits h Wᵀ (a language-model head with W stored (V, C),
 * e.g. tied to the token embedding) without ever holding the (N, V) logits: rows are
 * processed in chunks, and when gradients are needed each chunk's softmax - onehot is
 * turned into its share of dh = G W and dW = Gᵀ h right away, in the chunk's own buffer.
 * So the peak extra memory is one chunk of logits instead of logits plus their gradient.
 */
export function linearCrossEntropy(h: Tensor, weight: Tensor, targets: Int32Array, opts: LinearCrossEntropyOptions = {}): Tensor {
  const C = h.shape[h.ndim - 1];
  if (weight.ndim !== 2 || weight.shape[1] !== C) {
    throw new ShapeError(`linearCrossEntropy: weight ${formatShape(weight.shape)} does not match hidden ${formatShape(h.shape)}`);
  }
  if (h.dtype !== weight.dtype) throw new TypeError(`linearCrossEntropy: mixed dtypes ${h.dtype}, ${weight.dtype}`);
  const V = weight.shape[0];
  const N = h.size / C;
  if (targets.length !== N) throw new ShapeError(`linearCrossEntropy: ${targets.length} targets for ${N} rows`);
  const { t, count } = kernelTargets('linearCrossEntropy', targets, V, opts.ignoreIndex);
  const wantGrad = needsGrad(h, weight);
  const chunk = Math.max(1, Math.min(N, opts.chunkRows ?? Math.max(16, Math.floor((64 << 20) / (4 * V)))));
  const logits = allocate(chunk * V, h.dtype);
  const losses = allocate(chunk, h.dtype), lse = allocate(chunk, h.dtype);
  const ones = allocate(chunk, h.dtype).fill(1);
  const gh = wantGrad && h.requiresGrad ? allocate(h.size, h.dtype) : null;
  const gw = wantGrad && weight.requiresGrad ? allocate(weight.size, h.dtype) : null;
  let total = 0;
  for (let r0 = 0; r0 < N; r0 += chunk) {
    const rows = Math.min(chunk, N - r0);
    const hc = h.data.subarray(r0 * C, (r0 + rows) * C);
    const tc = t.subarray(r0, r0 + rows);
    // The three products in the current matmul precision (bf16 under autocast, as torch's
    // linear); the softmax and the loss stay float32.
    gemm(0, 1, rows, V, C, hc, C, bOperand(weight), C, 0, logits, V, 1, 0, 0, 0); // (rows, V)
    native.crossEntropyForward(rows, V, logits, tc, losses, lse);
    for (let i = 0; i < rows; i++) total += losses[i];
    if (!wantGrad) continue;
    // G = softmax - onehot (per valid row), written over the chunk's logits.
    native.crossEntropyBackward(rows, V, logits, tc, lse, ones, logits);
    if (gh) gemm(0, 0, rows, C, V, logits, V, bOperand(weight), C, 0, gh.subarray(r0 * C), C, 1, 0, 0, 0);
    if (gw) gemm(1, 0, V, C, rows, logits, V, hc, C, 1, gw, C, 1, 0, 0, 0);
  }
  const out = new Tensor(allocate(1, h.dtype), []);
  out.data[0] = count > 0 ? total / count : NaN;
  if (!wantGrad) return out;
  return record('linearCrossEntropy', out, [h, weight], (g) => {
    const s = g.data[0] / count; // d(mean)/d(sum)
    const res: (Tensor | null)[] = [null, null];
    if (gh) {
      native.unary(UnaryOp.scale, gh.length, gh, gh, s);
      res[0] = new Tensor(gh, h.shape);
    }
    if (gw) {
      native.unary(UnaryOp.scale, gw.length, gw, gw, s);
      res[1] = new Tensor(gw, weight.shape);
    }
    return res;
  });
}

/** log_softmax over the last axis. */
export function logSoftmax(x: Tensor): Tensor {
  const V = x.shape[x.ndim - 1];
  const N = x.size / V;
  const y = new Tensor(allocate(x.size, x.dtype), x.shape);
  native.logSoftmax(N, V, x.data, y.data);
  return record('logSoftmax', y, [x], (g) => {
    // dx = g - softmax(x) * sum(g) per row
    const gx = new Tensor(allocate(x.size, x.dtype), x.shape);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let j = 0; j < V; j++) s += g.data[n * V + j];
      for (let j = 0; j < V; j++) gx.data[n * V + j] = g.data[n * V + j] - Math.exp(y.data[n * V + j]) * s;
    }
    return [gx];
  });
}
