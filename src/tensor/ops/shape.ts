// Shape and layout ops: reshape (shares storage), permute/transpose, slice and concat
// (copies). Tensors are always contiguous, so every kernel sees plain row-major memory.
import { native } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, Shape, ShapeError, allocate, allocateOutput, sizeOf, formatShape, assertSameDType } from '../tensor.js';
import { normalizeAxis } from './reduce.js';

/** Same storage, new shape; one dimension may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const target = [...shape];
  const infer = target.indexOf(-1);
  if (infer >= 0) {
    const known = target.reduce((p, d, i) => (i === infer ? p : p * d), 1);
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(`reshape: cannot infer -1 reshaping ${formatShape(x.shape)} to ${formatShape(shape)}`);
    }
    target[infer] = x.size / known;
  }
  if (sizeOf(target) !== x.size) throw new ShapeError(`reshape: ${formatShape(x.shape)} to ${formatShape(shape)} changes the size`);
  const out = new Tensor(x.data, target);
  return record('reshape', out, [x], (g) => [new Tensor(g.data, x.shape)]);
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.ndim) throw new ShapeError(`permute: ${perm.length} axes for a ${x.ndim}-d tensor`);
  const p = perm.map((a) => normalizeAxis(a, x.ndim, 'permute'));
  const shape = p.map((a) => x.shape[a]);
  const out = new Tensor(allocateOutput(x.size, x.dtype), shape);
  native.permute(Int32Array.from(x.shape), Int32Array.from(p), x.data, out.data);
  const inverse = new Array<number>(p.length);
  p.forEach((a, i) => (inverse[a] = i));
  return record('permute', out, [x], (g) => [permute(g, inverse)]);
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = x.shape.map((_, i) => i);
  const ia = normalizeAxis(a, x.ndim, 'transpose'), ib = normalizeAxis(b, x.ndim, 'transpose');
  [perm[ia], perm[ib]] = [perm[ib], perm[ia]];
  return permute(x, perm);
}

function split3(shape: Shape, axis: number): [number, number, number] {
  let outer = 1, inner = 1;
  for (let i = 0; i < axis; i++) outer *= shape[i];
  for (let i = axis + 1; i < shape.length; i++) inner *= shape[i];
  return [outer, shape[axis], inner];
}

/** x[..., start:end, ...] along `axis` (a copy). */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normalizeAxis(axis, x.ndim, 'slice');
  const [outer, dim, inner] = split3(x.shape, a);
  if (!(0 <= start && start <= end && end <= dim)) {
    throw new ShapeError(`slice: [${start}, ${end}) out of range for axis ${a} of size ${dim}`);
  }
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  const out = new Tensor(allocate(sizeOf(shape), x.dtype), shape);
  native.narrow(outer, dim, inner, start, end - start, x.data, out.data);
  return record('slice', out, [x], (g) => {
    const gx = new Tensor(allocate(x.size, x.dtype), x.shape);
    native.narrowAdd(outer, dim, inner, start, end - start, g.data, gx.data);
    return [gx];
  });
}

export function concat(xs: Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('concat: no tensors');
  assertSameDType('concat', ...xs);
  const a = normalizeAxis(axis, xs[0].ndim, 'concat');
  for (const t of xs) {
    if (t.ndim !== xs[0].ndim || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i])) {
      throw new ShapeError(`concat: ${xs.map((x) => formatShape(x.shape)).join(', ')} differ off axis ${a}`);
    }
  }
  const total = xs.reduce((p, t) => p + t.shape[a], 0);
  const shape = xs[0].shape.map((d, i) => (i === a ? total : d));
  const out = new Tensor(allocate(sizeOf(shape), xs[0].dtype), shape);
  const [outer, , inner] = split3(shape, a);
  let offset = 0;
  const offsets: number[] = [];
  for (const t of xs) {
    offsets.push(offset);
    native.narrowAdd(outer, total, inner, offset, t.shape[a], t.data, out.data);
    offset += t.shape[a];
  }
  return record('concat', out, xs, (g) =>
    xs.map((t, k) => {
      if (!t.requiresGrad) return null;
      const gt = new Tensor(allocate(t.size, t.dtype), t.shape);
      native.narrow(outer, total, inner, offsets[k], t.shape[a], g.data, gt.data);
      return gt;
    }),
  );
}
