// Fused causal scaled-dot-product attention (one backward rule for the whole block) and
// rotary position embeddings.
import { native } from '../native.js';
import { record } from '../autograd.js';
import { Tensor, ShapeError, allocate, formatShape, assertSameDType } from '../tensor.js';

export interface AttentionOptions {
  /** Softmax scale; default 1/sqrt(head_dim). OPT pre-scales q and passes 1. */
  scale?: number;
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
  const P = allocate(B * Hq * Tq * Tk, q.dtype); // saved probabilities (B, Hq, Tq, Tk)
  native.attentionForward(B, Hq, Hkv, Tq, Tk, D, scale, q.data, k.data, v.data, out.data, P);
  return record('causalAttention', out, [q, k, v], (g) => {
    const gq = new Tensor(allocate(q.size, q.dtype), q.shape);
    const gk = new Tensor(allocate(k.size, k.dtype), k.shape);
    const gv = new Tensor(allocate(v.size, v.dtype), v.shape);
    native.attentionBackward(B, Hq, Hkv, Tq, Tk, D, scale, q.data, k.data, v.data, P, g.data, gq.data, gk.data, gv.data);
    return [gq, gk, gv];
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
