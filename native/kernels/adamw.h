// AdamW update with torch.optim.AdamW (1.13, single-tensor path) semantics:
//   p *= 1 - lr*wd;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),   bc_i = 1 - b_i^step
// The scalar factors are computed in double by the caller, as Python floats are.
#pragma once
#include <cmath>
#include <cstdint>

namespace scaleot {

template <typename T>
void adamw_step(int64_t n, T* p, const T* g, T* m, T* v, T decay_factor, T b1, T one_minus_b1, T b2, T one_minus_b2,
                T step_size, T bc2_sqrt, T eps) {
  for (int64_t i = 0; i < n; ++i) {
    T pi = p[i] * decay_factor;
    const T gi = g[i];
    const T mi = m[i] * b1 + gi * one_minus_b1;
    const T vi = v[i] * b2 + gi * gi * one_minus_b2;
    const T denom = std::sqrt(vi) / bc2_sqrt + eps;
    pi = pi + (-step_size) * (mi / denom);
    p[i] = pi;
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace scaleot
