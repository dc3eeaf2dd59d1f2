// Softmax cross-entropy over the vocabulary. logits: (N, V); targets: (N), a target < 0
// is ignored (loss 0, no gradient). Forward writes each row's loss and log-sum-exp;
// backward writes g_n * (softmax - onehot) using the saved log-sum-exp.
#pragma once
#include <cmath>
#include <cstdint>

namespace scaleot {

template <typename T>
void cross_entropy_forward(int64_t N, int64_t V, const T* logits, const int32_t* targets, T* losses, T* lse) {
  for (int64_t n = 0; n < N; ++n) {
    const T* row = logits + n * V;
    T mx = -INFINITY;
    for (int64_t j = 0; j < V; ++j) mx = row[j] > mx ? row[j] : mx;
    T s = 0;
    for (int64_t j = 0; j < V; ++j) s += std::exp(row[j] - mx);
    const T l = mx + std::log(s);
    lse[n] = l;
    losses[n] = targets[n] < 0 ? T(0) : l - row[targets[n]];
  }
}

// g: per-row upstream gradient of the loss (N).
template <typename T>
void cross_entropy_backward(int64_t N, int64_t V, const T* logits, const int32_t* targets, const T* lse, const T* g,
                            T* glogits) {
  for (int64_t n = 0; n < N; ++n) {
    const T* row = logits + n * V;
    T* grow = glogits + n * V;
    if (targets[n] < 0) {
      for (int64_t j = 0; j < V; ++j) grow[j] = 0;
      continue;
    }
    const T gn = g[n], l = lse[n];
    for (int64_t j = 0; j < V; ++j) grow[j] = gn * std::exp(row[j] - l);
    grow[targets[n]] -= gn;
  }
}

// Row-wise log-softmax (used by evaluation and sampling).
template <typename T>
void log_softmax(int64_t N, int64_t V, const T* x, T* y) {
  for (int64_t n = 0; n < N; ++n) {
    const T* row = x + n * V;
    T mx = -INFINITY;
    for (int64_t j = 0; j < V; ++j) mx = row[j] > mx ? row[j] : mx;
    T s = 0;
    for (int64_t j = 0; j < V; ++j) s += std::exp(row[j] - mx);
    const T l = mx + std::log(s);
    for (int64_t j = 0; j < V; ++j) y[n * V + j] = row[j] - l;
  }
}

}  // namespace scaleot
