// Reference GEMM: C = alpha * op(A) * op(B) + beta * C, batched with element strides.
// op(A) is (M, K), op(B) is (K, N), C is (M, N); all row-major with leading dimensions.
// Summation over k runs in increasing order for every (i, j), so results are
// deterministic and identical for float32 whatever loop order the caller picks.
#pragma once
#include <cstdint>
#include <vector>

namespace scaleot {

template <typename T>
void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
              const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  // Accumulate one row of C at a time in a scratch row so the k-order is fixed and the
  // inner loop runs over contiguous j when B is not transposed.
  std::vector<T> acc(static_cast<size_t>(N));
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) acc[j] = T(0);
    if (!trans_b) {
      for (int64_t p = 0; p < K; ++p) {
        const T a = trans_a ? A[p * lda + i] : A[i * lda + p];
        const T* brow = B + p * ldb;
        for (int64_t j = 0; j < N; ++j) acc[j] += a * brow[j];
      }
    } else {
      for (int64_t j = 0; j < N; ++j) {
        const T* bcol = B + j * ldb;  // B stored (N, K): row j holds op(B)[:, j]
        T s = T(0);
        if (!trans_a) {
          const T* arow = A + i * lda;
          for (int64_t p = 0; p < K; ++p) s += arow[p] * bcol[p];
        } else {
          for (int64_t p = 0; p < K; ++p) s += A[p * lda + i] * bcol[p];
        }
        acc[j] = s;
      }
    }
    T* crow = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) crow[j] = (beta == T(0) ? T(0) : beta * crow[j]) + alpha * acc[j];
  }
}

}  // namespace scaleot
