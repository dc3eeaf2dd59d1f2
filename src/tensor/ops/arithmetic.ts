// Elementwise arithmetic with NumPy broadcasting, and scalar maps. The backward rule of a
// broadcast op reduces the output gradient back to each input's shape (sumTo).
import { native, BinaryOp, UnaryOp } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, Shape, ShapeError, allocateOutput, sizeOf, formatShape, assertSameDType, shapesEqual } from '../tensor.js';
import { sumTo } from './reduce.js';

export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of a contiguous tensor of `shape` seen inside `outShape`, 0 on broadcast axes. */
function broadcastStrides(shape: Shape, outShape: Shape): Int32Array {
  const strides = new Int32Array(outShape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = outShape.length - shape.length + i;
    strides[o] = shape[i] === 1 ? 0 : s;
    s *= shape[i];
  }
  return strides;
}

/**
 * How operand `x` of size xs maps onto an output of n elements whose last axis has `last`
 * elements, as (row stride, column stride) of a (rows, cols) problem, or null when the
 * broadcast is not one of the common forms.
 */
type RowsPlan = { rows: number; cols: number; a: [number, number]; b: [number, number] };

function rowsPlan(a: Shape, b: Shape, out: Shape): RowsPlan | null {
  const n = sizeOf(out);
  const kind = (s: Shape): 'full' | 'scalar' | 'trailing' | 'column' | null => {
    const size = sizeOf(s);
    if (size === n && shapesEqual(s, out.slice(out.length - s.length)) && s.length === out.length) return 'full';
    if (size === 1) return 'scalar';
    // broadcast only over leading axes: s equals out's trailing axes (ignoring leading 1s)
    const t = s.slice(s.findIndex((d) => d !== 1));
    if (shapesEqual(t, out.slice(out.length - t.length)) && size === sizeOf(t)) return 'trailing';
    // a column: s equals out except its last axis is 1
    if (out.length > 1 && s.length === out.length && s[s.length - 1] === 1 && shapesEqual(s.slice(0, -1), out.slice(0, -1))) return 'column';
    return null;
  };
  const ka = kind(a), kb = kind(b);
  if (!ka || !kb) return null;
  const last = out[out.length - 1] ?? 1;
  const tsize = (s: Shape) => sizeOf(s);
  // Choose cols: the trailing block if any operand is 'trailing', else the last axis (columns)
  // or everything (full/scalar).
  let cols: number;
  if (ka === 'trailing' || kb === 'trailing') {
    if (ka === 'column' || kb === 'column') return null;
    cols = ka === 'trailing' ? tsize(a) : tsize(b);
    if (ka === 'trailing' && kb === 'trailing' && tsize(a) !== tsize(b)) return null;
  } else if (ka === 'column' || kb === 'column') cols = last;
  else cols = n;
  const rows = cols === 0 ? 0 : n / cols;
  const strides = (k: string): [number, number] =>
    k === 'full' ? [cols, 1] : k === 'scalar' ? [0, 0] : k === 'trailing' ? [0, 1] : [1, 0];
  return { rows, cols, a: strides(ka), b: strides(kb) };
}

function binary(name: string, op: number, a: Tensor, b: Tensor): Tensor {
  assertSameDType(name, a, b);
  const shape = broadcastShapes(a.shape, b.shape, name);
  const out = new Tensor(allocateOutput(sizeOf(shape), a.dtype), shape);
  const plan = rowsPlan(a.shape, b.shape, shape);
  if (plan) {
    native.binaryRows(op, plan.rows, plan.cols, a.data, plan.a[0], plan.a[1], b.data, plan.b[0], plan.b[1], out.data);
    return out;
  }
  native.binary(op, Int32Array.from(shape), a.data, broadcastStrides(a.shape, shape), b.data,
    broadcastStrides(b.shape, shape), out.data);
  return out;
}

export function add(a: Tensor, b: Tensor): Tensor {
  const out = binary('add', BinaryOp.add, a, b);
  return record('add', out, [a, b], (g) => [sumTo(g, a.shape), sumTo(g, b.shape)]);
}

export function sub(a: Tensor, b: Tensor): Tensor {
  const out = binary('sub', BinaryOp.sub, a, b);
  return record('sub', out, [a, b], (g) => [sumTo(g, a.shape), b.requiresGrad ? sumTo(neg(g), b.shape) : null]);
}

export function mul(a: Tensor, b: Tensor): Tensor {
  const out = binary('mul', BinaryOp.mul, a, b);
  return record('mul', out, [a, b], (g) => [
    a.requiresGrad ? sumTo(mul(g, b), a.shape) : null,
    b.requiresGrad ? sumTo(mul(g, a), b.shape) : null,
  ]);
}

export function div(a: Tensor, b: Tensor): Tensor {
  const out = binary('div', BinaryOp.div, a, b);
  return record('div', out, [a, b], (g) => [
    a.requiresGrad ? sumTo(div(g, b), a.shape) : null,
    // d(a/b)/db = -a/b^2 = -out/b
    b.requiresGrad ? sumTo(neg(div(mul(g, out), b)), b.shape) : null,
  ]);
}

function unary(op: number, x: Tensor, param = 0): Tensor {
  const out = new Tensor(allocateOutput(x.size, x.dtype), x.shape);
  native.unary(op, x.size, x.data, out.data, param);
  return out;
}

export function neg(x: Tensor): Tensor {
  return record('neg', unary(UnaryOp.neg, x), [x], (g) => [neg(g)]);
}

export function mulScalar(x: Tensor, s: number): Tensor {
  return record('mulScalar', unary(UnaryOp.scale, x, s), [x], (g) => [mulScalar(g, s)]);
}

export function addScalar(x: Tensor, s: number): Tensor {
  return record('addScalar', unary(UnaryOp.addScalar, x, s), [x], (g) => [g]);
}

export function exp(x: Tensor): Tensor {
  const out = unary(UnaryOp.exp, x);
  return record('exp', out, [x], (g) => [mul(g, out)]);
}

export function log(x: Tensor): Tensor {
  return record('log', unary(UnaryOp.log, x), [x], (g) => [div(g, x)]);
}

export function sqrt(x: Tensor): Tensor {
  const out = unary(UnaryOp.sqrt, x);
  // d sqrt(x) = 1 / (2 sqrt(x))
  return record('sqrt', out, [x], (g) => [div(mulScalar(g, 0.5), out)]);
}

export function square(x: Tensor): Tensor {
  return record('square', unary(UnaryOp.square, x), [x], (g) => [mul(g, mulScalar(x, 2))]);
}

/** Elementwise x^p for a constant exponent. */
export function powScalar(x: Tensor, p: number): Tensor {
  return record('powScalar', unary(UnaryOp.powScalar, x, p), [x], (g) => [mul(g, mulScalar(powScalar(x, p - 1), p))]);
}

/** In-place y += alpha * x (not recorded; for optimizers and accumulation). */
export function axpyInPlace(y: Tensor, alpha: number, x: Tensor): void {
  if (!shapesEqual(x.shape, y.shape)) throw new ShapeError(`axpy: ${formatShape(x.shape)} vs ${formatShape(y.shape)}`);
  assertSameDType('axpy', x, y);
  native.axpy(x.size, alpha, x.data, y.data);
}
