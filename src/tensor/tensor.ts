// The Tensor: a contiguous, row-major float32 (or float64) array with a shape, plus the
// autograd fields. Memory is an ordinary typed array owned by JavaScript: V8 accounts it
// and frees it when the tensor is unreachable, native kernels only borrow it for a call,
// and no pool or manual free exists that could be forgotten. Tensors that share storage
// (reshape) stay valid for as long as any of them is reachable.
import type { FloatArray } from './native.js';
import type { GradNode } from './autograd.js';
import { Rng } from '../util/rng.js';

export type DType = 'float32' | 'float64';
export type Shape = readonly number[];

export class ShapeError extends Error {
  override name = 'ShapeError';
}

export class Tensor {
  readonly data: FloatArray;
  readonly shape: Shape;
  /** Gradients are computed for this tensor (leaf) or flow through it (interior). */
  requiresGrad: boolean;
  /** Accumulated gradient of a leaf after backward(); null until then. */
  grad: Tensor | null = null;
  /** The operation that produced this tensor, while its graph is alive. */
  gradFn: GradNode | null = null;

  constructor(data: FloatArray, shape: Shape, requiresGrad = false) {
    const n = sizeOf(shape);
    if (data.length !== n) {
      throw new ShapeError(`tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
    }
    this.data = data;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
  }

  get dtype(): DType {
    return this.data instanceof Float64Array ? 'float64' : 'float32';
  }

  get size(): number {
    return this.data.length;
  }

  get ndim(): number {
    return this.shape.length;
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new ShapeError(`item() needs one element, tensor has shape [${this.shape.join(', ')}]`);
    return this.data[0];
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  /** Same storage, cut from the graph. */
  detach(): Tensor {
    return new Tensor(this.data, this.shape, false);
  }

  /** A copy with its own storage, cut from the graph. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape, false);
  }

  toString(): string {
    return `Tensor(shape=[${this.shape.join(', ')}], dtype=${this.dtype})`;
  }
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function allocate(n: number, dtype: DType): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return new Tensor(allocate(sizeOf(shape), dtype), shape);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const t = zeros(shape, dtype);
  t.data.fill(value);
  return t;
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

export function tensor(values: ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
  const data = allocate(values.length, dtype);
  for (let i = 0; i < values.length; i++) data[i] = values[i];
  return new Tensor(data, shape ?? [values.length]);
}

export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return tensor([value], [], dtype);
}

/** Normal(0, std) entries from a seeded generator. */
export function randn(shape: Shape, rng: Rng, std = 1, dtype: DType = 'float32'): Tensor {
  const t = zeros(shape, dtype);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.normal() * std;
  return t;
}

/** Uniform(lo, hi) entries from a seeded generator. */
export function rand(shape: Shape, rng: Rng, lo = 0, hi = 1, dtype: DType = 'float32'): Tensor {
  const t = zeros(shape, dtype);
  for (let i = 0; i < t.size; i++) t.data[i] = lo + (hi - lo) * rng.uniform();
  return t;
}

/** The same values in another precision (a copy; not recorded by autograd). */
export function cast(t: Tensor, dtype: DType): Tensor {
  const data = allocate(t.size, dtype);
  data.set(t.data);
  return new Tensor(data, t.shape, false);
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(s: Shape): string {
  return `[${s.join(', ')}]`;
}

export function assertSameDType(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== ts[0].dtype) throw new TypeError(`${op}: mixed dtypes ${ts.map((x) => x.dtype).join(', ')}`);
  }
}
