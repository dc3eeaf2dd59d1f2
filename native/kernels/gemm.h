// Reference GEMM: C = alpha * op(A) * op(B) + beta * C, batched with element strides.
// op(A) is (M, K), op(B) is (K, N), C is (M, N); all row-major with leading dimensions.
// Summation over k runs in increasing order for every (i, j), so results are
// deterministic and identical for float32 whatever loop order the caller picks.
#pragma once
#include <cstdint>
#include <cstring>
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

// float32 -> bfloat16 -> float32 with round-to-nearest-even (NaN stays NaN): the value a
// bf16 operand holds. bf16 keeps float32's exponent and the top 7 mantissa bits.
inline float round_bf16(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) u |= 0x00400000u;  // quiet NaN
  else u += 0x7fffu + ((u >> 16) & 1u);
  u &= 0xffff0000u;
  std::memcpy(&x, &u, 4);
  return x;
}

// Reference bf16 GEMM (mixed precision): C = alpha (bf16(op(A)) bf16(op(B))) + beta C, both
// operands rounded to bfloat16, products and sums in float32, k in increasing order.
inline void gemm_bf16_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      float s = 0.0f;
      for (int64_t p = 0; p < K; ++p) {
        const float a = round_bf16(trans_a ? A[p * lda + i] : A[i * lda + p]);
        const float b = round_bf16(trans_b ? B[j * ldb + p] : B[p * ldb + j]);
        s += a * b;
      }
      float* c = C + i * ldc + j;
      *c = (beta == 0.0f ? 0.0f : beta * *c) + alpha * s;
    }
}

}  // namespace scaleot
