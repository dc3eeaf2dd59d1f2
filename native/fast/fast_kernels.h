// The fast float32 kernels. fast_kernels.cc is compiled once per instruction set
// (AVX-512, AVX2+FMA, portable C++) into separate objects; the addon picks one table at
// run time from what the CPU offers, or the one SCALEOT_KERNELS names. Every entry has a
// naive twin in native/kernels/ that the tests compare it with.
#pragma once
#include <cstdint>

#include "../kernels/attention.h"

namespace scaleot {

struct FastKernels {
  const char* isa;
  // C = alpha op(A) op(B) + beta C, row-major (see kernels/gemm.h for the contract).
  void (*sgemm)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc);
  // C = alpha op(A) op(B) + beta C + bias, bias (N) added to every row (a linear layer).
  void (*sgemm_bias)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias);
  // Same for `batch` independent products with element strides.
  void (*sgemm_batched)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                        int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                        float* C, int64_t ldc, int64_t stride_c, int64_t batch);
  // Mixed precision: C = alpha (bf16(op(A)) bf16(op(B))) + beta C (+ bias), operands rounded
  // to bfloat16 (round to nearest even) while packing, products accumulated in float32.
  // VDPBF16PS where the CPU has AVX512-BF16, else float32 FMAs on the rounded operands.
  void (*sgemm_bf16)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                     int64_t lda, int64_t stride_a, const float* B, int64_t ldb, int64_t stride_b, float beta,
                     float* C, int64_t ldc, int64_t stride_c, int64_t batch, const float* bias);
  // The same with B held as bfloat16 bit patterns (weights stored in bf16): exactly what
  // sgemm_bf16 gives on B expanded to float32.
  void (*sgemm_bf16_bits)(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                          int64_t lda, int64_t stride_a, const uint16_t* B, int64_t ldb, int64_t stride_b, float beta,
                          float* C, int64_t ldc, int64_t stride_c, int64_t batch, const float* bias);
  // Which bf16 path sgemm_bf16 takes: "vdpbf16ps" or "emulated".
  const char* (*bf16_path)();
  void (*binary_rows)(int op, int64_t rows, int64_t cols, const float* a, int64_t ars, int64_t acs, const float* b,
                      int64_t brs, int64_t bcs, float* out);
  void (*unary)(int op, int64_t n, const float* x, float* y, float p);
  void (*activation_backward)(int op, int64_t n, const float* x, const float* gy, float* gx);
  void (*axpy)(int64_t n, float alpha, const float* x, float* y);
  void (*layernorm_forward)(int64_t N, int64_t C, const float* x, const float* w, const float* b, float eps, float* y,
                            float* mean, float* rstd);
  void (*layernorm_backward)(int64_t N, int64_t C, const float* x, const float* w, const float* mean, const float* rstd,
                             const float* gy, float* gx, float* gw, float* gb);
  void (*rmsnorm_forward)(int64_t N, int64_t C, const float* x, const float* w, float eps, float* y, float* rstd);
  void (*rmsnorm_backward)(int64_t N, int64_t C, const float* x, const float* w, const float* rstd, const float* gy,
                           float* gx, float* gw);
  // Strided views as in kernels/attention.h; attention_forward's P may be null (not kept);
  // bf16: the products in bf16 with float32 accumulation.
  void (*attention_forward)(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, float scale,
                            View<const float> q, View<const float> k, View<const float> v, View<float> out, float* P,
                            bool bf16);
  void (*attention_backward)(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, float scale,
                             View<const float> q, View<const float> k, View<const float> v, const float* P,
                             View<const float> gout, View<float> gq, View<float> gk, View<float> gv, bool bf16);
  void (*cross_entropy_forward)(int64_t N, int64_t V, const float* logits, const int32_t* targets, float* losses,
                                float* lse);
  void (*cross_entropy_backward)(int64_t N, int64_t V, const float* logits, const int32_t* targets, const float* lse,
                                 const float* g, float* glogits);
  void (*adamw_step)(int64_t n, float* p, const float* g, float* m, float* v, float decay, float b1, float omb1,
                     float b2, float omb2, float step_size, float bc2_sqrt, float eps);
};

const FastKernels* fast_kernels_avx512();
const FastKernels* fast_kernels_avx2();
const FastKernels* fast_kernels_portable();

}  // namespace scaleot
