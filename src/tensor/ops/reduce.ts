// Reductions along one axis (sum, mean) and the reverse of broadcasting (sumTo).
import { native } from '../native.js';
import { record } from '../autograd.js';
import { mulScalar } from './arithmetic.js';
import { Tensor, Shape, ShapeError, allocate, formatShape, shapesEqual, sizeOf } from '../tensor.js';

export function normalizeAxis(axis: number, ndim: number, op: string): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) throw new ShapeError(`${op}: axis ${axis} out of range for ${ndim} dims`);
  return a;
}

function splitAt(shape: Shape, axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

/** Sum over one axis (or all elements when axis is undefined). */
export function sum(x: Tensor, axis?: number, keepdim = false): Tensor {
  if (axis === undefined) {
    const flat = new Tensor(x.data, [x.size], false);
    const out = new Tensor(allocate(1, x.dtype), []);
    native.sumAxis(1, x.size, 1, flat.data, out.data);
    return record('sum', out, [x], (g) => [expandTo(g, [], x.shape)]);
  }
  const a = normalizeAxis(axis, x.ndim, 'sum');
  const [outer, mid, inner] = splitAt(x.shape, a);
  const kept = x.shape.map((d, i) => (i === a ? 1 : d));
  const shape = keepdim ? kept : x.shape.filter((_, i) => i !== a);
  const out = new Tensor(allocate(outer * inner, x.dtype), shape);
  native.sumAxis(outer, mid, inner, x.data, out.data);
  return record('sum', out, [x], (g) => [expandTo(g, kept, x.shape)]);
}

export function mean(x: Tensor, axis?: number, keepdim = false): Tensor {
  const n = axis === undefined ? x.size : x.shape[normalizeAxis(axis, x.ndim, 'mean')];
  const s = sum(x, axis, keepdim);
  // Scale through an op so the backward rule divides too. (arithmetic.ts imports sumTo
  // from here: the cycle is fine, both are only called after the modules have loaded.)
  return mulScalar(s, 1 / n);
}

/** Broadcasts g (shape `keptShape`: `shape` with size-1 axes) to `shape`; not recorded. */
export function expandTo(g: Tensor, keptShape: Shape, shape: Shape): Tensor {
  const src = new Tensor(g.data, keptShape.length === 0 ? shape.map(() => 1) : keptShape, false);
  const out = new Tensor(allocate(sizeOf(shape), g.dtype), shape);
  // out = 0 + src (broadcast) through the binary kernel.
  const strides = new Int32Array(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = src.shape[i] === 1 ? 0 : s;
    s *= src.shape[i];
  }
  native.binary(0, Int32Array.from(shape), src.data, strides, allocate(1, g.dtype), new Int32Array(shape.length), out.data);
  return out;
}

/** Sums g over the axes that broadcasting expanded, giving a tensor of `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  if (shape.length > g.ndim) throw new ShapeError(`sumTo: cannot reduce ${formatShape(g.shape)} to ${formatShape(shape)}`);
  let cur = g;
  // Leading axes that the input did not have.
  const lead = g.ndim - shape.length;
  if (lead > 0) {
    const leadSize = g.shape.slice(0, lead).reduce((p, d) => p * d, 1);
    const rest = g.shape.slice(lead);
    const flat = new Tensor(cur.data, [leadSize, ...rest], false);
    const out = new Tensor(allocate(sizeOf(rest), g.dtype), rest);
    native.sumAxis(1, leadSize, sizeOf(rest), flat.data, out.data);
    cur = out;
  }
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1 && cur.shape[i] !== 1) {
      const [outer, mid, inner] = splitAt(cur.shape, i);
      const next = cur.shape.map((d, k) => (k === i ? 1 : d));
      const out = new Tensor(allocate(outer * inner, g.dtype), next);
      native.sumAxis(outer, mid, inner, cur.data, out.data);
      cur = out;
    } else if (shape[i] !== cur.shape[i]) {
      throw new ShapeError(`sumTo: cannot reduce ${formatShape(g.shape)} to ${formatShape(shape)}`);
    }
  }
  return cur;
}

/** Max and argmax along an axis (not differentiable; for decoding and metrics). */
export function maxAlong(x: Tensor, axis: number): { values: Tensor; indices: Int32Array } {
  const a = normalizeAxis(axis, x.ndim, 'max');
  const [outer, mid, inner] = splitAt(x.shape, a);
  const shape = x.shape.filter((_, i) => i !== a);
  const values = new Tensor(allocate(outer * inner, x.dtype), shape);
  const indices = new Int32Array(outer * inner);
  native.maxAxis(outer, mid, inner, x.data, values.data, indices);
  return { values, indices };
}
