// Causal multi-head attention with grouped KV heads, reference version.
// q: (B, Hq, Tq, D); k, v: (B, Hkv, Tk, D); out: (B, Hq, Tq, D); P: (B, Hq, Tq, Tk) saved
// softmax probabilities. Query row i sits at absolute position i + (Tk - Tq), so a KV
// cache (Tk > Tq) and plain training (Tk == Tq) share one kernel; it attends keys
// j <= i + Tk - Tq. Query head h reads KV head h / (Hq / Hkv).
#pragma once
#include <cmath>
#include <cstdint>

namespace scaleot {

template <typename T>
void attention_forward(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, T scale, const T* q,
                       const T* k, const T* v, T* out, T* P) {
  const int64_t group = Hq / Hkv;
  const int64_t shift = Tk - Tq;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / group;
      const T* qh = q + ((b * Hq + h) * Tq) * D;
      const T* kh = k + ((b * Hkv + hk) * Tk) * D;
      const T* vh = v + ((b * Hkv + hk) * Tk) * D;
      T* oh = out + ((b * Hq + h) * Tq) * D;
      T* ph = P + ((b * Hq + h) * Tq) * Tk;
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t last = i + shift;  // inclusive
        T* prow = ph + i * Tk;
        T mx = -INFINITY;
        for (int64_t j = 0; j <= last; ++j) {
          T s = 0;
          for (int64_t d = 0; d < D; ++d) s += qh[i * D + d] * kh[j * D + d];
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
        T* orow = oh + i * D;
        for (int64_t d = 0; d < D; ++d) orow[d] = 0;
        for (int64_t j = 0; j <= last; ++j) {
          const T p = prow[j];
          for (int64_t d = 0; d < D; ++d) orow[d] += p * vh[j * D + d];
        }
      }
    }
}

// gq is overwritten; gk, gv are overwritten (summed over the query heads of each group).
// dS needs one row of Tk scratch (ds).
template <typename T>
void attention_backward(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, T scale, const T* q,
                        const T* k, const T* v, const T* P, const T* gout, T* gq, T* gk, T* gv, T* ds) {
  const int64_t group = Hq / Hkv;
  const int64_t shift = Tk - Tq;
  for (int64_t n = 0; n < B * Hkv * Tk * D; ++n) gk[n] = 0, gv[n] = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < Hq; ++h) {
      const int64_t hk = h / group;
      const T* qh = q + ((b * Hq + h) * Tq) * D;
      const T* kh = k + ((b * Hkv + hk) * Tk) * D;
      const T* vh = v + ((b * Hkv + hk) * Tk) * D;
      const T* ph = P + ((b * Hq + h) * Tq) * Tk;
      const T* goh = gout + ((b * Hq + h) * Tq) * D;
      T* gqh = gq + ((b * Hq + h) * Tq) * D;
      T* gkh = gk + ((b * Hkv + hk) * Tk) * D;
      T* gvh = gv + ((b * Hkv + hk) * Tk) * D;
      for (int64_t i = 0; i < Tq; ++i) {
        const int64_t last = i + shift;
        const T* prow = ph + i * Tk;
        const T* gorow = goh + i * D;
        // dP_j = gout_i . v_j ;  dS_j = P_j (dP_j - sum_t P_t dP_t)
        T dot = 0;
        for (int64_t j = 0; j <= last; ++j) {
          T dp = 0;
          for (int64_t d = 0; d < D; ++d) dp += gorow[d] * vh[j * D + d];
          ds[j] = dp;
          dot += prow[j] * dp;
        }
        T* gqrow = gqh + i * D;
        for (int64_t d = 0; d < D; ++d) gqrow[d] = 0;
        for (int64_t j = 0; j <= last; ++j) {
          const T p = prow[j];
          const T s = p * (ds[j] - dot) * scale;
          for (int64_t d = 0; d < D; ++d) {
            gqrow[d] += s * kh[j * D + d];
            gkh[j * D + d] += s * qh[i * D + d];
            gvh[j * D + d] += p * gorow[d];
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
