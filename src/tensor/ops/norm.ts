// Fused LayerNorm and RMSNorm over the last axis (forward caches mean/rstd per row, as in
// llm.c; backward is one kernel producing dx, dweight and dbias).
import { native } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, ShapeError, allocate, allocateOutput, formatShape, assertSameDType } from '../tensor.js';

function rows(x: Tensor, w: Tensor, op: string): [number, number] {
  const C = x.shape[x.ndim - 1];
  if (w.ndim !== 1 || w.shape[0] !== C) throw new ShapeError(`${op}: weight ${formatShape(w.shape)} for input ${formatShape(x.shape)}`);
  return [x.size / C, C];
}

const EMPTY32 = new Float32Array(0);
const EMPTY64 = new Float64Array(0);
const empty = (t: Tensor) => (t.dtype === 'float64' ? EMPTY64 : EMPTY32);

/** torch.nn.functional.layer_norm over the last axis; bias may be null. */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor | null, eps = 1e-5): Tensor {
  const [N, C] = rows(x, weight, 'layerNorm');
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== C)) throw new ShapeError(`layerNorm: bias ${formatShape(bias.shape)} for ${C} features`);
  assertSameDType('layerNorm', x, weight, ...(bias ? [bias] : []));
  const y = new Tensor(allocateOutput(x.size, x.dtype), x.shape);
  const mean = allocateOutput(N, x.dtype), rstd = allocateOutput(N, x.dtype);
  native.layernormForward(N, C, x.data, weight.data, bias ? bias.data : empty(x), eps, y.data, mean, rstd);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record('layerNorm', y, inputs, (g) => {
    const gx = new Tensor(allocateOutput(x.size, x.dtype), x.shape);
    const gw = weight.requiresGrad ? new Tensor(allocate(C, x.dtype), [C]) : null;
    const gb = bias && bias.requiresGrad ? new Tensor(allocate(C, x.dtype), [C]) : null;
    native.layernormBackward(N, C, x.data, weight.data, mean, rstd, g.data, gx.data, gw ? gw.data : empty(x),
      gb ? gb.data : empty(x));
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}

/** RMSNorm as in LLaMA: x * rsqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  const [N, C] = rows(x, weight, 'rmsNorm');
  assertSameDType('rmsNorm', x, weight);
  const y = new Tensor(allocate(x.size, x.dtype), x.shape);
  const rstd = allocate(N, x.dtype);
  native.rmsnormForward(N, C, x.data, weight.data, eps, y.data, rstd);
  return record('rmsNorm', y, [x, weight], (g) => {
    const gx = new Tensor(allocate(x.size, x.dtype), x.shape);
    const gw = weight.requiresGrad ? new Tensor(allocate(C, x.dtype), [C]) : null;
    native.rmsnormBackward(N, C, x.data, weight.data, rstd, g.data, gx.data, gw ? gw.data : empty(x));
    return [gx, gw];
  });
}
