// LayerNorm and RMSNorm over the last axis (llm.c's layernorm_forward/backward shape):
// forward caches mean and rstd per row; backward accumulates into gw/gb in row order.
#pragma once
#include <cmath>
#include <cstdint>

namespace scaleot {

// x, y: (N, C); w, b: (C) (b may be null); mean, rstd: (N)
template <typename T>
void layernorm_forward(int64_t N, int64_t C, const T* x, const T* w, const T* b, T eps, T* y, T* mean, T* rstd) {
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    T m = 0;
    for (int64_t c = 0; c < C; ++c) m += xr[c];
    m /= T(C);
    T v = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T d = xr[c] - m;
      v += d * d;
    }
    v /= T(C);  // biased variance, as torch.nn.LayerNorm
    const T r = T(1) / std::sqrt(v + eps);
    T* yr = y + n * C;
    for (int64_t c = 0; c < C; ++c) yr[c] = (xr[c] - m) * r * w[c] + (b ? b[c] : T(0));
    mean[n] = m;
    rstd[n] = r;
  }
}

// gx = dL/dx (overwritten); gw, gb accumulated (gb may be null).
template <typename T>
void layernorm_backward(int64_t N, int64_t C, const T* x, const T* w, const T* mean, const T* rstd, const T* gy,
                        T* gx, T* gw, T* gb) {
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    const T* gr = gy + n * C;
    const T m = mean[n], r = rstd[n];
    // dnorm = gy * w;  gx = r * (dnorm - mean(dnorm) - xhat * mean(dnorm * xhat))
    T sum_d = 0, sum_dx = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T xhat = (xr[c] - m) * r;
      const T d = gr[c] * w[c];
      sum_d += d;
      sum_dx += d * xhat;
    }
    sum_d /= T(C);
    sum_dx /= T(C);
    T* gxr = gx + n * C;
    for (int64_t c = 0; c < C; ++c) {
      const T xhat = (xr[c] - m) * r;
      const T d = gr[c] * w[c];
      gxr[c] = (d - sum_d - xhat * sum_dx) * r;
      if (gw) gw[c] += gr[c] * xhat;
      if (gb) gb[c] += gr[c];
    }
  }
}

// RMSNorm (LLaMA): y = x * rsqrt(mean(x^2) + eps) * w
template <typename T>
void rmsnorm_forward(int64_t N, int64_t C, const T* x, const T* w, T eps, T* y, T* rstd) {
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    T ss = 0;
    for (int64_t c = 0; c < C; ++c) ss += xr[c] * xr[c];
    const T r = T(1) / std::sqrt(ss / T(C) + eps);
    T* yr = y + n * C;
    for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] * r * w[c];
    rstd[n] = r;
  }
}

template <typename T>
void rmsnorm_backward(int64_t N, int64_t C, const T* x, const T* w, const T* rstd, const T* gy, T* gx, T* gw) {
  for (int64_t n = 0; n < N; ++n) {
    const T* xr = x + n * C;
    const T* gr = gy + n * C;
    const T r = rstd[n];
    // gx = r * (d - xhat * mean(d * xhat)), d = gy * w, xhat = x * r
    T sum_dx = 0;
    for (int64_t c = 0; c < C; ++c) sum_dx += gr[c] * w[c] * xr[c] * r;
    sum_dx /= T(C);
    T* gxr = gx + n * C;
    for (int64_t c = 0; c < C; ++c) {
      const T xhat = xr[c] * r;
      gxr[c] = (gr[c] * w[c] - xhat * sum_dx) * r;
      if (gw) gw[c] += gr[c] * xhat;
    }
  }
}

}  // namespace scaleot
