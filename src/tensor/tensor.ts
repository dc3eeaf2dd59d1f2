// The Tensor: a contiguous, row-major float32 (or float64) array with a shape, plus the
// autograd fields. Memory is an ordinary typed array owned by JavaScript: V8 accounts it
// and frees it when the tensor is unreachable, and native kernels only borrow it for a
// call. Tensors that share storage (reshape) stay valid for as long as any of them is
// reachable. The one exception is a buffer scope (pool.ts: each training step runs in
// one): there op outputs come from a pool of reused arrays, and a tensor made inside the
// scope and not kept by it becomes unusable when the scope ends (ReleasedTensorError), so
// that reused memory is never read through a stale tensor.
import type { FloatArray } from './native.js';
import type { GradNode } from './autograd.js';
import { noteTensor, takeBuffer, type ReleasableStorage } from './pool.js';
import { Rng } from '../util/rng.js';

export type DType = 'float32' | 'float64';
export type Shape = readonly number[];

export class ShapeError extends Error {
  override name = 'ShapeError';
}

/** Reading the float values of a tensor whose values are held only as bf16 bits. */
export class Bf16StorageError extends Error {
  override name = 'Bf16StorageError';
}

/** Reading a tensor made inside a buffer scope after the scope reused its memory. */
export class ReleasedTensorError extends Error {
  override name = 'ReleasedTensorError';
}

export class Tensor implements ReleasableStorage {
  private values: FloatArray;
  /**
   * The values as bfloat16 bit patterns when this tensor is held in bf16 (inference weights:
   * holdInBf16); then no float32 copy exists and only the ops that read bits (matrix
   * products as their B operand, embedding lookups) can use it.
   */
  bf16: Uint16Array | null = null;
  readonly size: number;
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
    this.values = data;
    this.size = n;
    this.shape = Object.freeze([...shape]);
    this.requiresGrad = requiresGrad;
    noteTensor(this);
  }

  /** The values: a contiguous row-major float array (not for a tensor held in bf16). */
  get data(): FloatArray {
    if (this.bf16) {
      throw new Bf16StorageError(`tensor [${this.shape.join(', ')}] is held in bf16 (weights for inference): this operation needs its float32 values; load the model with float32 weights`);
    }
    if (this.values === RELEASED) {
      throw new ReleasedTensorError(`tensor [${this.shape.join(', ')}] has given its memory back to the buffer pool: it was made inside a buffer scope (a training step or scoring batch) that has ended, or it was a gradient the backward pass had consumed; keep a result by returning it from the scope, or clone() it inside`);
    }
    return this.values;
  }

  storageBuffer(): ArrayBufferLike | null {
    return this.values === RELEASED || this.values === EMPTY ? null : this.values.buffer;
  }

  releaseStorage(): void {
    this.values = RELEASED;
  }

  /** A tensor held in bf16 computes as float32 (its products give float32 results). */
  get dtype(): DType {
    return this.values instanceof Float64Array ? 'float64' : 'float32';
  }

  /**
   * Keeps the values (or `from`, when given) only as bfloat16 bits (round to nearest even),
   * dropping the float32 array: half the memory, for weights that inference only reads.
   * Frozen from then on: an optimizer or any op that needs float32 values gets a
   * Bf16StorageError.
   */
  holdInBf16(from: Float32Array | null = null): void {
    if (!(this.values instanceof Float32Array) && !this.bf16) throw new TypeError('holdInBf16: only float32 tensors can be held in bf16');
    if (this.gradFn) throw new TypeError('holdInBf16: only leaf tensors (weights) can be held in bf16');
    if (from) {
      // New values straight from a file: the float32 array is never touched (loading keeps
      // half the resident memory all along, not only after the conversion).
      if (from.length !== this.size) throw new ShapeError(`holdInBf16: ${from.length} values for shape [${this.shape.join(', ')}]`);
      this.bf16 = bf16Bits(from);
    } else if (!this.bf16) {
      this.bf16 = bf16Bits(this.values as Float32Array);
    }
    this.values = EMPTY;
    this.requiresGrad = false;
    this.grad = null;
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

const EMPTY = new Float32Array(0);
/** The values of a released tensor (its own sentinel, so bf16-held tensors stay apart). */
const RELEASED = new Float32Array(0);

/** bfloat16 bit patterns of float32 values, rounded to nearest even (NaN stays NaN). */
export function bf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) {
    const w = u[i];
    if ((w & 0x7f800000) === 0x7f800000 && (w & 0x007fffff) !== 0) out[i] = (w >>> 16) | 0x0040;
    else out[i] = (w + 0x7fff + ((w >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 values of bfloat16 bits (exact). */
export function fromBf16Bits(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, bits.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i] << 16;
  return out;
}

/** A tensor's values as float32, expanded from bf16 bits when it is held in bf16 (a copy then). */
export function valuesOf(t: Tensor): FloatArray {
  return t.bf16 ? fromBf16Bits(t.bf16) : t.data;
}

/** A zero-filled array. */
export function allocate(n: number, dtype: DType): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

// SCALEOT_POISON_OUTPUTS=1 (set by the test runner) fills output arrays with NaN, so a
// kernel that reads an element of its output before writing it fails the tests instead of
// silently depending on whatever the memory held.
const POISON_OUTPUTS = process.env.SCALEOT_POISON_OUTPUTS === '1';

/**
 * An array that the caller's kernel overwrites entirely (an op's output), left unzeroed:
 * zero-filling the ~3 GB that one base-24 training step allocates took about a tenth of the
 * step. Use allocate() wherever anything is accumulated into the array.
 */
export function allocateOutput(n: number, dtype: DType): FloatArray {
  const bytes = dtype === 'float64' ? n * 8 : n * 4;
  const memory = takeBuffer(bytes); // its own ArrayBuffer, offset 0; pooled inside a buffer scope
  const out = dtype === 'float64' ? new Float64Array(memory, 0, n) : new Float32Array(memory, 0, n);
  if (POISON_OUTPUTS) out.fill(NaN);
  return out;
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
