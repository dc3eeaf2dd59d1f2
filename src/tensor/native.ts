// Loads the C++ compute core (built by `npm install` through node-gyp) and types its
// functions. Every function borrows the typed arrays it is given for the duration of the
// call only: JavaScript owns all tensor memory (see native/napi_args.h).
import { packageRoot } from '../util/root.js';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type FloatArray = Float32Array | Float64Array;

/** A strided (B, H, T, D) view for the attention kernels: element (b, h, t, d) is at
 * array[offset + b*batchStride + h*headStride + t*rowStride + d]. */
export type StridedView = [array: FloatArray, offset: number, batchStride: number, headStride: number, rowStride: number];

/** The kernel set a backend provides; model code never calls it directly. */
export interface NativeKernels {
  gemm(transA: number, transB: number, M: number, N: number, K: number, alpha: number, A: FloatArray, lda: number,
    B: FloatArray, ldb: number, beta: number, C: FloatArray, ldc: number, batch: number, strideA: number,
    strideB: number, strideC: number): void;
  /**
   * Mixed precision (float32 arrays): C = alpha bf16(op(A)) bf16(op(B)) + beta C (+ bias),
   * operands rounded to bfloat16 (nearest even), products summed in float32; batched. B may
   * also be given as bfloat16 bit patterns (a Uint16Array: weights held in bf16).
   */
  gemmBf16(transA: number, transB: number, M: number, N: number, K: number, alpha: number, A: Float32Array, lda: number,
    B: Float32Array | Uint16Array, ldb: number, beta: number, C: Float32Array, ldc: number, batch: number, strideA: number,
    strideB: number, strideC: number, bias: Float32Array | null): void;
  /** How gemmBf16 runs: 'vdpbf16ps' (AVX512-BF16), 'emulated' (float32 FMAs) or 'reference'. */
  bf16Path(): string;
  /** C = op(A) op(B) + bias, bias (N) broadcast over the M rows. */
  gemmBias(transA: number, transB: number, M: number, N: number, K: number, A: FloatArray, lda: number, B: FloatArray,
    ldb: number, bias: FloatArray, C: FloatArray, ldc: number): void;
  binary(op: number, shape: Int32Array, a: FloatArray, stridesA: Int32Array, b: FloatArray, stridesB: Int32Array,
    out: FloatArray): void;
  binaryRows(op: number, rows: number, cols: number, a: FloatArray, ars: number, acs: number, b: FloatArray, brs: number,
    bcs: number, out: FloatArray): void;
  unary(op: number, n: number, x: FloatArray, y: FloatArray, param: number): void;
  activationBackward(op: number, n: number, x: FloatArray, gy: FloatArray, gx: FloatArray): void;
  axpy(n: number, alpha: number, x: FloatArray, y: FloatArray): void;
  sumAxis(outer: number, mid: number, inner: number, x: FloatArray, out: FloatArray): void;
  maxAxis(outer: number, mid: number, inner: number, x: FloatArray, out: FloatArray, argmax: Int32Array): void;
  sumSquares(n: number, x: FloatArray): number;
  permute(shape: Int32Array, perm: Int32Array, x: FloatArray, out: FloatArray): void;
  narrow(outer: number, dim: number, inner: number, start: number, len: number, x: FloatArray, out: FloatArray): void;
  narrowAdd(outer: number, dim: number, inner: number, start: number, len: number, g: FloatArray, out: FloatArray): void;
  embeddingForward(n: number, rows: number, dim: number, ids: Int32Array, W: FloatArray, out: FloatArray): void;
  embeddingBackward(n: number, rows: number, dim: number, ids: Int32Array, gy: FloatArray, gW: FloatArray): void;
  layernormForward(N: number, C: number, x: FloatArray, w: FloatArray, b: FloatArray, eps: number, y: FloatArray,
    mean: FloatArray, rstd: FloatArray): void;
  layernormBackward(N: number, C: number, x: FloatArray, w: FloatArray, mean: FloatArray, rstd: FloatArray,
    gy: FloatArray, gx: FloatArray, gw: FloatArray, gb: FloatArray): void;
  rmsnormForward(N: number, C: number, x: FloatArray, w: FloatArray, eps: number, y: FloatArray, rstd: FloatArray): void;
  rmsnormBackward(N: number, C: number, x: FloatArray, w: FloatArray, rstd: FloatArray, gy: FloatArray, gx: FloatArray,
    gw: FloatArray): void;
  /**
   * Each operand is a strided view: ...[array, offset, batchStride, headStride, rowStride];
   * then P (B, Hq, Tq, Tk) receives the probabilities, or is null when no backward pass
   * will need them; the last argument is 1 for bf16 products (float32 arrays), else 0.
   * attentionBackward ends with the same flag.
   */
  attentionForward(B: number, Hq: number, Hkv: number, Tq: number, Tk: number, D: number, scale: number,
    ...operandsThenP: (FloatArray | number | null)[]): void;
  attentionBackward(B: number, Hq: number, Hkv: number, Tq: number, Tk: number, D: number, scale: number,
    ...operands: (FloatArray | number)[]): void;
  rope(BH: number, T: number, D: number, cos: FloatArray, sin: FloatArray, sign: number, x: FloatArray,
    y: FloatArray): void;
  crossEntropyForward(N: number, V: number, logits: FloatArray, targets: Int32Array, losses: FloatArray,
    lse: FloatArray): void;
  crossEntropyBackward(N: number, V: number, logits: FloatArray, targets: Int32Array, lse: FloatArray,
    g: FloatArray, glogits: FloatArray): void;
  logSoftmax(N: number, V: number, x: FloatArray, y: FloatArray): void;
  adamwStep(n: number, p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, decayFactor: number, b1: number,
    oneMinusB1: number, b2: number, oneMinusB2: number, stepSize: number, bc2Sqrt: number, eps: number): void;
  svd(m: number, n: number, A: Float64Array, U: Float64Array, S: Float64Array, V: Float64Array): number;

  /** Selects the float32 kernels: 'auto' | 'avx512' | 'avx2' | 'portable' | 'reference'; returns the set chosen. */
  setKernels(mode: string): string;
  getKernels(): string;
  setNumThreads(n: number): number;
  getNumThreads(): number;
  /** The fast kernel sets this CPU and build can run, best first, e.g. "avx512 avx2 portable". */
  cpuFeatures(): string;
  /** Returns allocator memory that no buffer uses to the OS (glibc malloc_trim). */
  releaseFreeMemory(): void;
}

/** Codes shared with native/kernels/elementwise.h. */
export const BinaryOp = { add: 0, sub: 1, mul: 2, div: 3 } as const;
export const UnaryOp = {
  neg: 0, exp: 1, log: 2, sqrt: 3, scale: 4, addScalar: 5, relu: 6, gelu: 7, silu: 8, tanh: 9, sigmoid: 10,
  square: 11, powScalar: 12,
} as const;

function load(): NativeKernels {
  const root = packageRoot();
  const path = join(root, 'build', 'Release', 'scaleot_native.node');
  if (!existsSync(path)) {
    throw new Error(`scaleot: native addon not built (${path} is missing); run \`npm install\` or \`npm run build\``);
  }
  const require = createRequire(import.meta.url);
  return require(path) as NativeKernels;
}

export const native: NativeKernels = load();
