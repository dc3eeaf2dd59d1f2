// Causal multi-head attention with grouped KV heads, reference version.
// Each of q, k, v, out is addressed through a View: element (b, h, t, d) sits at
// data[b*sb + h*sh + t*sr + d]. That covers contiguous (B, H, T, D) tensors and heads read
// in place from a fused (B, T, 3C) projection or written straight into (B, T, C), so the
// model needs no permute copies. q: (B, Hq, Tq, D); k, v: (B, Hkv, Tk, D); P: saved
// softmax probabilities, contiguous (B, Hq, Tq, Tk). Query row i sits at absolute
// position i + (Tk - Tq), so a KV cache (Tk > Tq) and training (Tk == Tq) share one
// kernel; it attends keys j <= i + Tk - Tq. Query head h reads KV head h / (Hq / Hkv).
// bf16: both operands of every product (QKᵀ, PV and the four of the backward) rounded to
// bfloat16, sums in T (the mixed-precision rule of kernels/gemm.h's gemm_bf16_ref).
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>
#include "gemm.h"

namespace scaleot {

template <typename T>
struct View {
  T* p;
  int64_t sb, sh, sr;
  T* at(int64_t b, int64_t h) const { return p + b * sb + h * sh; }
};

template <typename T>
void attention_forward(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, T scale, View<const T> q,
                       View<const T> k, View<const T> v, View<T> out, T* P, bool bf16) {
  const auto r = [bf16](T x) { return bf16 ? T(round_bf16(float(x))) : x; };
  const int64_t group = Hq / Hkv;
  const int64_t shift = Tk - Tq;
  // P null (inference): one head's probabilities at a time in a scratch buffer.
  std::vector<T> scratch(P ? 0 : size_t(Tq * Tk));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / group;
      const T* qh = q.at(b, h);
      const T* kh = k.at(b, hk);
      const T* vh = v.at(b, hk);
      T* oh = out.at(b, h);
      T* ph = P ? P + ((b * Hq + h) * Tq) * Tk : scratch.data();
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t last = i + shift;  // inclusive
        T* prow = ph + i * Tk;
        T mx = -INFINITY;
        for (int64_t j = 0; j <= last; ++j) {
          T s = 0;
          for (int64_t d = 0; d < D; ++d) s += r(qh[i * q.sr + d]) * r(kh[j * k.sr + d]);
          s *= scale;
          prow[j] = s;
          if (s > mx) mx = s;
        }
        T sum = 0;
        for (int64_t j = 0; j <= last; ++j) {
          prow[j] = std::exp(prow[j] - mx);
          sum += prow[j];
        }
        const T inv = T(1) / sum;
        for (int64_t j = 0; j <= last; ++j) prow[j] *= inv;
        for (int64_t j = last + 1; j < Tk; ++j) prow[j] = 0;
        T* orow = oh + i * out.sr;
        for (int64_t d = 0; d < D; ++d) orow[d] = 0;
        for (int64_t j = 0; j <= last; ++j) {
          const T p = r(prow[j]);
          for (int64_t d = 0; d < D; ++d) orow[d] += p * r(vh[j * v.sr + d]);
        }
      }
    }
}

// gq is overwritten; gk, gv are overwritten (summed over the query heads of each group).
// gq/gk/gv use the strides of q/k/v; gout uses those of out. ds: Tk scratch.
template <typename T>
void attention_backward(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, T scale, View<const T> q,
                        View<const T> k, View<const T> v, const T* P, View<const T> gout, View<T> gq, View<T> gk,
                        View<T> gv, T* ds, bool bf16) {
  const auto r = [bf16](T x) { return bf16 ? T(round_bf16(float(x))) : x; };
  const int64_t group = Hq / Hkv;
  const int64_t shift = Tk - Tq;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t hk = 0; hk < Hkv; ++hk)
      for (int64_t j = 0; j < Tk; ++j)
        for (int64_t d = 0; d < D; ++d) gk.at(b, hk)[j * gk.sr + d] = 0, gv.at(b, hk)[j * gv.sr + d] = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / group;
      const T* qh = q.at(b, h);
      const T* kh = k.at(b, hk);
      const T* vh = v.at(b, hk);
      const T* ph = P + ((b * Hq + h) * Tq) * Tk;
      const T* goh = gout.at(b, h);
      T* gqh = gq.at(b, h);
      T* gkh = gk.at(b, hk);
      T* gvh = gv.at(b, hk);
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t last = i + shift;
        const T* prow = ph + i * Tk;
        const T* gorow = goh + i * gout.sr;
        // dP_j = gout_i . v_j ;  dS_j = P_j (dP_j - sum_t P_t dP_t)
        T dot = 0;
        for (int64_t j = 0; j <= last; ++j) {
          T dp = 0;
          for (int64_t d = 0; d < D; ++d) dp += r(gorow[d]) * r(vh[j * v.sr + d]);
          ds[j] = dp;
          dot += prow[j] * dp;
        }
        T* gqrow = gqh + i * gq.sr;
        for (int64_t d = 0; d < D; ++d) gqrow[d] = 0;
        for (int64_t j = 0; j <= last; ++j) {
          const T p = r(prow[j]);
          const T s = r(prow[j] * (ds[j] - dot) * scale);
          for (int64_t d = 0; d < D; ++d) {
            gqrow[d] += s * r(kh[j * k.sr + d]);
            gkh[j * gk.sr + d] += s * r(qh[i * q.sr + d]);
            gvh[j * gv.sr + d] += p * r(gorow[d]);
          }
        }
      }
    }
}

// Rotary embedding, rotate-half convention (Hugging Face LLaMA): x (B, H, T, D) in place
// into y; cos, sin: (T, D/2) for the T positions of x. sign = -1 applies the inverse
// rotation (the backward rule).
template <typename T>
void rope(int64_t BH, int64_t Tn, int64_t D, const T* cos, const T* sin, T sign, const T* x, T* y) {
  const int64_t half = D / 2;
  for (int64_t bh = 0; bh < BH; ++bh)
    for (int64_t t = 0; t < Tn; ++t) {
      const T* xr = x + (bh * Tn + t) * D;
      T* yr = y + (bh * Tn + t) * D;
      const T* c = cos + t * half;
      const T* s = sin + t * half;
      for (int64_t i = 0; i < half; ++i) {
        const T x1 = xr[i], x2 = xr[i + half];
        const T sn = sign * s[i];
        yr[i] = x1 * c[i] - x2 * sn;
        yr[i + half] = x2 * c[i] + x1 * sn;
      }
    }
}

}  // namespace scaleot
