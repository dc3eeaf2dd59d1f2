// Fused softmax cross-entropy over the vocabulary (one kernel forward, one backward; the
// probabilities are recomputed from the saved log-sum-exp instead of being stored), and
// log-softmax for scoring.
import { native } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, ShapeError, allocate, formatShape } from '../tensor.js';

export interface CrossEntropyOptions {
  /** 'mean' over non-ignored targets (torch's default), 'sum', or 'none' (per row). */
  reduction?: 'mean' | 'sum' | 'none';
  /** Targets equal to this are ignored; torch's default is -100. Any negative id is ignored. */
  ignoreIndex?: number;
}

/** logits: (N, V) or (..., V); targets: one id per row. */
export function crossEntropy(logits: Tensor, targets: Int32Array, opts: CrossEntropyOptions = {}): Tensor {
  const V = logits.shape[logits.ndim - 1];
  const N = logits.size / V;
  if (targets.length !== N) throw new ShapeError(`crossEntropy: ${targets.length} targets for logits ${formatShape(logits.shape)}`);
  const ignore = opts.ignoreIndex ?? -100;
  const t = new Int32Array(N);
  let count = 0;
  for (let i = 0; i < N; i++) {
    const id = targets[i];
    if (id === ignore || id < 0) t[i] = -1;
    else {
      if (id >= V) throw new ShapeError(`crossEntropy: target ${id} at row ${i} outside vocabulary of ${V}`);
      t[i] = id;
      count++;
    }
  }
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
