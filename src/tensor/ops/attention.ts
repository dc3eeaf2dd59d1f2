// Fused causal scaled-dot-product attention (one backward rule for the whole block) and
// rotary position embeddings.
import { native, FloatArray, StridedView } from '../native.js';
import { needsGrad, record } from '../autograd.js';
import { Tensor, ShapeError, allocate, allocateOutput, formatShape, assertSameDType } from '../tensor.js';
import { matmulPrecision } from './matmul.js';

export interface AttentionOptions {
  /** Softmax scale; default 1/sqrt(head_dim). OPT pre-scales q and passes 1. */
  scale?: number;
}

/** Strided views of a contiguous (B, H, T, D) tensor. */
function bhtd(t: Tensor | FloatArray, H: number, T: number, D: number): StridedView {
  return [t instanceof Tensor ? t.data : t, 0, H * T * D, T * D, D];
}

interface AttentionViews {
  B: number; Hq: number; Hkv: number; Tq: number; Tk: number; D: number;
  q: StridedView; k: StridedView; v: StridedView; out: StridedView;
}

type AttentionBackwardStep = (gout: StridedView, gq: StridedView, gk: StridedView, gv: StridedView) => void;

/**
 * Runs the fused kernel forward and returns the backward step (P stays captured), which
 * writes dq, dk, dv through the given views (gradient buffers are only made if needed).
 * Without a backward to come (inference) the probabilities are not kept at all: the
 * kernel reuses a small per-thread block instead of a (B, Hq, Tq, Tk) array.
 */
function attentionCore(a: AttentionViews, scale: number, dtype: 'float32' | 'float64', keepForBackward: boolean): AttentionBackwardStep {
  const P = keepForBackward ? allocateOutput(a.B * a.Hq * a.Tq * a.Tk, dtype) : null; // saved probabilities (B, Hq, Tq, Tk)
  // QKᵀ and PV are matrix products: they take the matmul precision (autocast's rule), and
  // the backward keeps the precision its forward ran with, as matmul's does.
  const bf16 = matmulPrecision() === 'bf16' && dtype === 'float32' ? 1 : 0;
  native.attentionForward(a.B, a.Hq, a.Hkv, a.Tq, a.Tk, a.D, scale, ...a.q, ...a.k, ...a.v, ...a.out, P, bf16);
  return (gout, gq, gk, gv) => {
    if (!P) throw new Error('attention backward: the forward ran without gradient recording');
    native.attentionBackward(a.B, a.Hq, a.Hkv, a.Tq, a.Tk, a.D, scale, ...a.q, ...a.k, ...a.v, P, ...gout, ...gq, ...gk, ...gv, bf16);
  };
}

/**
 * q: (B, Hq, Tq, D), k and v: (B, Hkv, Tk, D) with Hq % Hkv == 0 (grouped-query
 * attention) and Tk >= Tq: the queries are the last Tq positions (a KV cache holds the
 * first Tk - Tq). Returns (B, Hq, Tq, D).
 */
export function causalAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  assertSameDType('causalAttention', q, k, v);
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new ShapeError(`causalAttention: expects 4-d q, k, v; got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
  }
  const [B, Hq, Tq, D] = q.shape;
  const [Bk, Hkv, Tk, Dk] = k.shape;
  if (Bk !== B || Dk !== D || v.shape.some((d, i) => d !== k.shape[i]) || Hq % Hkv !== 0 || Tk < Tq) {
    throw new ShapeError(`causalAttention: incompatible q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}`);
  }
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const out = new Tensor(allocate(q.size, q.dtype), q.shape);
  const runBackward = attentionCore({
    B, Hq, Hkv, Tq, Tk, D,
    q: bhtd(q, Hq, Tq, D), k: bhtd(k, Hkv, Tk, D), v: bhtd(v, Hkv, Tk, D), out: bhtd(out, Hq, Tq, D),
  }, scale, q.dtype, needsGrad(q, k, v));
  return record('causalAttention', out, [q, k, v], (g) => {
    const gq = new Tensor(allocate(q.size, q.dtype), q.shape);
    const gk = new Tensor(allocate(k.size, k.dtype), k.shape);
    const gv = new Tensor(allocate(v.size, v.dtype), v.shape);
    runBackward(bhtd(g, Hq, Tq, D), bhtd(gq, Hq, Tq, D), bhtd(gk, Hkv, Tk, D), bhtd(gv, Hkv, Tk, D));
    return [gq, gk, gv];
  });
}

/**
 * GPT-2-style self-attention straight from the fused projection: qkv (B, T, 3C) holding
 * q, k, v side by side (each C = nHead * D) -> (B, T, C) with heads merged, read and
 * written in place through strides, so no split or permute copies are made.
 */
export function fusedQKVAttention(qkv: Tensor, nHead: number, opts: AttentionOptions = {}): Tensor {
  if (qkv.ndim !== 3 || qkv.shape[2] % (3 * nHead) !== 0) {
    throw new ShapeError(`fusedQKVAttention: expects (B, T, 3 * nHead * D), got ${formatShape(qkv.shape)} with ${nHead} heads`);
  }
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3, D = C / nHead;
  const scale = opts.scale ?? 1 / Math.sqrt(D);
  const out = new Tensor(allocateOutput(B * T * C, qkv.dtype), [B, T, C]);
  const part = (arr: FloatArray, i: number): StridedView => [arr, i * C, T * C3, D, C3];
  const runBackward = attentionCore({
    B, Hq: nHead, Hkv: nHead, Tq: T, Tk: T, D,
    q: part(qkv.data, 0), k: part(qkv.data, 1), v: part(qkv.data, 2), out: [out.data, 0, T * C, D, C],
  }, scale, qkv.dtype, needsGrad(qkv));
  return record('fusedQKVAttention', out, [qkv], (go) => {
    const g = new Tensor(allocateOutput(qkv.size, qkv.dtype), qkv.shape); // dq | dk | dv side by side
    runBackward([go.data, 0, T * C, D, C], part(g.data, 0), part(g.data, 1), part(g.data, 2));
    return [g];
  });
}

/** cos/sin tables (T, D/2) for rotate-half rotary embeddings at positions offset..offset+T-1. */
export function rotaryTables(T: number, D: number, theta: number, offset = 0, dtype: 'float32' | 'float64' = 'float32') {
  const half = D / 2;
  const cos = allocate(T * half, dtype), sin = allocate(T * half, dtype);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      // inv_freq = 1 / theta^(2i/D), computed in float32 as Hugging Face does.
      const invFreq = Math.fround(1 / Math.pow(theta, (2 * i) / D));
      const angle = Math.fround((t + offset) * invFreq);
      cos[t * half + i] = Math.cos(angle);
      sin[t * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

/** Rotary embedding (rotate-half) applied to x (B, H, T, D) with tables from rotaryTables. */
export function rope(x: Tensor, tables: { cos: Float32Array | Float64Array; sin: Float32Array | Float64Array }): Tensor {
  if (x.ndim !== 4) throw new ShapeError(`rope: expects (B, H, T, D), got ${formatShape(x.shape)}`);
  const [B, H, T, D] = x.shape;
  if (tables.cos.length !== (T * D) / 2) throw new ShapeError(`rope: tables for ${tables.cos.length * 2 / D} positions, input has ${T}`);
  const out = new Tensor(allocate(x.size, x.dtype), x.shape);
  native.rope(B * H, T, D, tables.cos, tables.sin, 1, x.data, out.data);
  return record('rope', out, [x], (g) => {
    // The rotation is orthogonal: its backward is the inverse rotation.
    const gx = new Tensor(allocate(x.size, x.dtype), x.shape);
    native.rope(B * H, T, D, tables.cos, tables.sin, -1, g.data, gx.data);
    return [gx];
  });
}
