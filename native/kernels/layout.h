// Data movement: permute (general transpose), slices along one axis, embedding gather and
// scatter-add. No arithmetic except the accumulations, which run in index order.
#pragma once
#include <cstdint>

namespace scaleot {

// out = x.permute(perm), x has shape `shape` (ndim <= 16); out is contiguous.
template <typename T>
void permute(int ndim, const int32_t* shape, const int32_t* perm, const T* x, T* out) {
  int64_t in_strides[16];
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; --d) in_strides[d] = s, s *= shape[d];
  const int64_t total = s;
  int32_t oshape[16];
  int64_t ostr[16];  // input stride for each output axis
  for (int d = 0; d < ndim; ++d) oshape[d] = shape[perm[d]], ostr[d] = in_strides[perm[d]];
  int64_t idx[16] = {0};
  int64_t off = 0;
  for (int64_t n = 0; n < total; ++n) {
    out[n] = x[off];
    for (int d = ndim - 1; d >= 0; --d) {
      if (++idx[d] < oshape[d]) {
        off += ostr[d];
        break;
      }
      off -= ostr[d] * (oshape[d] - 1);
      idx[d] = 0;
    }
  }
}

// View x as (outer, dim, inner); copy rows [start, start+len) of the middle axis into out
// (outer, len, inner).
template <typename T>
void narrow(int64_t outer, int64_t dim, int64_t inner, int64_t start, int64_t len, const T* x, T* out) {
  for (int64_t o = 0; o < outer; ++o) {
    const T* src = x + (o * dim + start) * inner;
    T* dst = out + o * len * inner;
    for (int64_t i = 0; i < len * inner; ++i) dst[i] = src[i];
  }
}

// Inverse of narrow: out (outer, dim, inner) slice [start, start+len) += g (outer, len, inner).
template <typename T>
void narrow_add(int64_t outer, int64_t dim, int64_t inner, int64_t start, int64_t len, const T* g, T* out) {
  for (int64_t o = 0; o < outer; ++o) {
    const T* src = g + o * len * inner;
    T* dst = out + (o * dim + start) * inner;
    for (int64_t i = 0; i < len * inner; ++i) dst[i] += src[i];
  }
}

// out[n, :] = W[ids[n], :]; ids are range-checked by the binding.
template <typename T>
void embedding_forward(int64_t n, int64_t dim, const int32_t* ids, const T* W, T* out) {
  for (int64_t t = 0; t < n; ++t) {
    const T* row = W + static_cast<int64_t>(ids[t]) * dim;
    for (int64_t c = 0; c < dim; ++c) out[t * dim + c] = row[c];
  }
}

// gW[ids[n], :] += gy[n, :], in increasing n (deterministic for repeated ids).
template <typename T>
void embedding_backward(int64_t n, int64_t dim, const int32_t* ids, const T* gy, T* gW) {
  for (int64_t t = 0; t < n; ++t) {
    T* row = gW + static_cast<int64_t>(ids[t]) * dim;
    for (int64_t c = 0; c < dim; ++c) row[c] += gy[t * dim + c];
  }
}

}  // namespace scaleot
