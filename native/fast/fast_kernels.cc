// Fast float32 kernels, compiled once per instruction set (see fast_kernels.h).
//
// SGEMM follows the GotoBLAS/BLIS structure: B is packed into KC x NR slivers, A into
// MC x KC blocks of MR-row slivers, and a register-blocked MR x NR micro-kernel runs over
// them (AVX-512: 12x32, AVX2: 6x16, portable: 4x16). Work is split across threads over
// rows or columns of C, never over K, so every element of C is summed in the same order
// whatever the thread count.
#if defined(SCALEOT_ISA_UNAVAILABLE)
// This instruction set does not exist on the build target: provide an empty table.
#include "fast_kernels.h"
namespace scaleot {
const FastKernels* SCALEOT_TABLE_NAME() { return nullptr; }
}  // namespace scaleot
#else
#include <algorithm>
#if defined(SCALEOT_ISA_AVX512)
#include <immintrin.h>
#endif
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../kernels/gemm.h"
#include "../threadpool.h"
#include "fast_kernels.h"
#include "simd.h"

#if defined(SCALEOT_ISA_AVX512)
#define ISA_NAME "avx512"
#define TABLE_FN fast_kernels_avx512
#define ISA_NS isa_avx512
#elif defined(SCALEOT_ISA_AVX2)
#define ISA_NAME "avx2"
#define TABLE_FN fast_kernels_avx2
#define ISA_NS isa_avx2
#else
#define ISA_NAME "portable"
#define TABLE_FN fast_kernels_portable
#define ISA_NS isa_portable
#endif

namespace scaleot {
namespace ISA_NS {

using namespace simd;

// ---------------------------------------------------------------------------------------
// SGEMM

#if defined(SCALEOT_ISA_AVX512)
constexpr int MR = 12, NR = 32;
#elif defined(SCALEOT_ISA_AVX2)
constexpr int MR = 6, NR = 16;
#else
constexpr int MR = 4, NR = 16;
#endif
int64_t env_or(const char* name, int64_t dflt) {
  const char* e = std::getenv(name);
  return e && std::atoll(e) > 0 ? std::atoll(e) : dflt;
}
const int64_t KC = env_or("SCALEOT_KC", 256);
// The VDPBF16PS path's depth, in k values. Its panels hold bf16 (half the bytes of float32)
// and each pass over k stores and reloads the C tile, so a deeper panel pays: bf16 sgemm
// 1024^3 on the development VM, three rounds with the depths interleaved, went from
// 477-640 GFLOP/s at 256 to 603-699 at 1024 (512: 576-681), 1024 best in every round, with
// A's block (MC x 1024 bf16, 384 KiB) still in L2.
const int64_t KC_BF16 = env_or("SCALEOT_KC_BF16", 1024);
const int64_t MC = env_or("SCALEOT_MC", MR * 16) / MR * MR;
const int64_t NC = env_or("SCALEOT_NC", NR * 128) / NR * NR;

// Below this many multiply-adds a product runs on one thread.
constexpr int64_t kParallelGemmWork = int64_t(1) << 18;

struct PackBuffers {
  std::vector<float> a, b;
  float* A(size_t n) {
    if (a.size() < n) a.resize(n);
    return a.data();
  }
  float* B(size_t n) {
    if (b.size() < n) b.resize(n);
    return b.data();
  }
};

// Per-thread pack buffers, bounded by MC*KC + KC*NC floats; kept for reuse between calls.
thread_local PackBuffers t_pack;

// Operand values as packed: float32 as is, or rounded to bfloat16 (the emulated bf16 path).
template <bool BF16>
inline float packed(float x) { return BF16 ? round_bf16(x) : x; }

// Packs op(A)[i0:i0+mc, p0:p0+kc] * alpha into MR-row slivers: sliver s holds, for each k,
// MR consecutive values (rows past mc are zero).
template <bool BF16 = false>
void pack_a(bool ta, const float* A, int64_t lda, int64_t i0, int64_t p0, int64_t mc, int64_t kc, float alpha,
            float* out) {
  for (int64_t s = 0; s < mc; s += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - s);
    float* dst = out + s * kc;
    if (!ta) {
      // k outer: each step writes one contiguous MR-group while reading MR row streams.
      const float* src = A + (i0 + s) * lda + p0;
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t r = 0; r < rows; ++r) dst[k * MR + r] = alpha * packed<BF16>(src[r * lda + k]);
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = A + (p0 + k) * lda + i0 + s;
        for (int64_t r = 0; r < rows; ++r) dst[k * MR + r] = alpha * packed<BF16>(src[r]);
      }
    }
    if (rows < MR)
      for (int64_t k = 0; k < kc; ++k)
        for (int64_t r = rows; r < MR; ++r) dst[k * MR + r] = 0.0f;
  }
}

// Packs op(B)[p0:p0+kc, j0:j0+nc] into NR-column slivers: for each k, NR consecutive values.
template <bool BF16 = false>
void pack_b(bool tb, const float* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc, int64_t nc, float* out) {
  for (int64_t s = 0; s < nc; s += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - s);
    float* dst = out + s * kc;
    if (!tb) {
      for (int64_t k = 0; k < kc; ++k) {
        const float* src = B + (p0 + k) * ldb + j0 + s;
        float* d = dst + k * NR;
        if (cols == NR && !BF16) std::memcpy(d, src, sizeof(float) * NR);
        else {
          for (int64_t c = 0; c < cols; ++c) d[c] = packed<BF16>(src[c]);
          for (int64_t c = cols; c < NR; ++c) d[c] = 0.0f;
        }
      }
    } else {
      // k outer: one contiguous NR-wide write per k, reading `cols` row streams that stay
      // in L1 across the 16 k of each cache line.
      const float* src = B + (j0 + s) * ldb + p0;
      for (int64_t k = 0; k < kc; ++k) {
        float* d = dst + k * NR;
        for (int64_t c = 0; c < cols; ++c) d[c] = packed<BF16>(src[c * ldb + k]);
        for (int64_t c = cols; c < NR; ++c) d[c] = 0.0f;
      }
    }
  }
}

// acc (MR x NR) = sum_k a[k] (x) b[k]; then C = acc + beta * C on the valid mr x nr part.
// bias (nullable): NR per-column values added to the tile (only on the first K block).
inline void micro_kernel(int64_t kc, const float* a, const float* b, float* C, int64_t ldc, float beta, int64_t mr,
                         int64_t nr, const float* bias) {
  constexpr int NV = NR / W;
#if defined(__GNUC__)
  // The C tile is read (beta) or written after the k loop: start bringing it in now.
  for (int64_t i = 0; i < mr; ++i) __builtin_prefetch(C + i * ldc, 1, 3);
#endif
  vf acc[MR][NV];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) acc[i][v] = zero();
  for (int64_t k = 0; k < kc; ++k) {
    vf bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load(b + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const vf ai = set1(a[i]);
      for (int v = 0; v < NV; ++v) acc[i][v] = fmadd(ai, bv[v], acc[i][v]);
    }
    a += MR;
    b += NR;
  }
  if (bias) {
    vf bv[NV];
    for (int v = 0; v < NV; ++v) bv[v] = load(bias + v * W);
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) acc[i][v] = add(acc[i][v], bv[v]);
  }
  if (mr == MR && nr == NR) {
    if (beta == 0.0f) {
      for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) store(C + i * ldc + v * W, acc[i][v]);
    } else {
      const vf bb = set1(beta);
      for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) store(C + i * ldc + v * W, fmadd(bb, load(C + i * ldc + v * W), acc[i][v]));
    }
    return;
  }
  alignas(64) float tile[MR * NR];
  for (int i = 0; i < MR; ++i)
    for (int v = 0; v < NV; ++v) store(tile + i * NR + v * W, acc[i][v]);
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float* c = C + i * ldc + j;
      *c = beta == 0.0f ? tile[i * NR + j] : beta * *c + tile[i * NR + j];
    }
}

// One thread's product: C[0:M, 0:N] for the given (already offset) operands.
// bias (nullable): N values added to every row of C (C = op(A) op(B) + beta C + bias).
// BF16: operands rounded to bfloat16 while packing (the emulated mixed-precision path).
template <bool BF16 = false>
void sgemm_serial(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias = nullptr) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        C[i * ldc + j] = (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]) + (bias ? bias[j] : 0.0f);
    return;
  }
  // The micro-kernel reads NR bias values per sliver: pad the last sliver's.
  alignas(64) float bias_tail[NR];
  PackBuffers& buf = t_pack;
  const int64_t nc_max = std::min<int64_t>(NC, (N + NR - 1) / NR * NR);
  const int64_t kc_max = std::min<int64_t>(KC, K);
  const int64_t mc_max = std::min<int64_t>(MC, (M + MR - 1) / MR * MR);
  float* bp = buf.B(static_cast<size_t>(nc_max * kc_max));
  float* ap = buf.A(static_cast<size_t>(mc_max * kc_max));
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min<int64_t>(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min<int64_t>(KC, K - pc);
      const float beta_eff = pc == 0 ? beta : 1.0f;
      pack_b<BF16>(tb, B, ldb, pc, jc, kc, nc, bp);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min<int64_t>(MC, M - ic);
        pack_a<BF16>(ta, A, lda, ic, pc, mc, kc, alpha, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const float* bcols = nullptr;
          if (bias && pc == 0) {
            if (nr == NR) bcols = bias + jc + jr;
            else {
              for (int64_t c = 0; c < NR; ++c) bias_tail[c] = c < nr ? bias[jc + jr + c] : 0.0f;
              bcols = bias_tail;
            }
          }
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            micro_kernel(kc, ap + ir * kc, bp + jr * kc, C + (ic + ir) * ldc + jc + jr, ldc, beta_eff, mr, nr, bcols);
          }
        }
      }
    }
  }
}

// Offsets of op(A) row i / op(B) column j in memory (B: float32, or bf16 bits).
inline const float* a_rows(bool ta, const float* A, int64_t lda, int64_t i) { return ta ? A + i : A + i * lda; }
template <typename TB>
inline const TB* b_cols(bool tb, const TB* B, int64_t ldb, int64_t j) { return tb ? B + j * ldb : B + j; }

template <typename TB>
using SerialGemmOf = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const TB*, int64_t,
                              float, float*, int64_t, const float*);
using SerialGemm = SerialGemmOf<float>;

// Runs one product with `serial` on every thread: split over rows or columns of C, never
// over K, so every element is summed in the same order whatever the thread count.
template <typename TB>
void split_gemm(SerialGemmOf<TB> serial, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                int64_t lda, const TB* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
  const int nt = num_threads();
  if (nt == 1 || M * N * K < kParallelGemmWork) {
    serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
    return;
  }
  // Split the larger output dimension; column splits keep whole NR slivers.
  const bool split_n = N >= M || M < MR * nt;
  parallel_run(nt, [&](int t, int parts) {
    int64_t lo, hi;
    if (split_n) {
      split_range(N, parts, t, NR, &lo, &hi);
      if (hi > lo)
        serial(ta, tb, M, hi - lo, K, alpha, A, lda, b_cols(tb, B, ldb, lo), ldb, beta, C + lo, ldc, bias ? bias + lo : nullptr);
    } else {
      split_range(M, parts, t, MR, &lo, &hi);
      if (hi > lo) serial(ta, tb, hi - lo, N, K, alpha, a_rows(ta, A, lda, lo), lda, B, ldb, beta, C + lo * ldc, ldc, bias);
    }
  });
}

void sgemm_bias(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
  split_gemm<float>(sgemm_serial<false>, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

void sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
           int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm_bias(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, nullptr);
}

void sgemm_batched(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   int64_t sa, const float* B, int64_t ldb, int64_t sb, float beta, float* C, int64_t ldc, int64_t sc,
                   int64_t batch) {
  const int nt = num_threads();
  if (batch == 1) {
    sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  if (nt > 1 && batch >= nt && M * N * K * batch >= kParallelGemmWork) {
    // Many small products: each thread takes whole entries of the batch.
    parallel_run(nt, [&](int t, int parts) {
      int64_t lo, hi;
      split_range(batch, parts, t, 1, &lo, &hi);
      for (int64_t e = lo; e < hi; ++e)
        sgemm_serial(ta, tb, M, N, K, alpha, A + e * sa, lda, B + e * sb, ldb, beta, C + e * sc, ldc);
    });
    return;
  }
  for (int64_t e = 0; e < batch; ++e) sgemm(ta, tb, M, N, K, alpha, A + e * sa, lda, B + e * sb, ldb, beta, C + e * sc, ldc);
}

// ---------------------------------------------------------------------------------------
// Mixed-precision GEMM: bf16 operands, float32 accumulation (fast_kernels.h, sgemm_bf16)

#if defined(SCALEOT_ISA_AVX512)
// VDPBF16PS: each float32 lane accumulates two bf16 products (k and k + 1), so A is packed
// as MR-row slivers of k pairs (one 32-bit word per row and pair, broadcast) and B as
// NR-column slivers of k pairs (a column's two values adjacent: one zmm holds 16 columns).

// round_bf16 on 16 lanes, as bits: the bf16 value in the upper half, the lower half zero
// (round to nearest even; a NaN stays a NaN, quieted). Integer arithmetic,
// not VCVTNEPS2BF16, because that instruction flushes denormal inputs to zero and the
// reference does not.
inline __m512i round_bf16_bits(__m512 x) {
  const __m512i u = _mm512_castps_si512(x);
  const __mmask16 nan = _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
  const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_add_epi32(u, _mm512_add_epi32(_mm512_set1_epi32(0x7fff), odd));
  const __m512i quiet = _mm512_or_si512(u, _mm512_set1_epi32(0x00400000));
  return _mm512_and_si512(_mm512_mask_blend_epi32(nan, rounded, quiet), _mm512_set1_epi32(int(0xffff0000u)));
}

inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1u); }

// Pair words of up to 16 lanes from two rows: lane c = bf16(lo[c]) | bf16(hi[c]) << 16
// (hi null: the odd k past the end, zero; lanes past n zero).
inline __m512i pair_words_across(const float* lo, const float* hi, int64_t n) {
  const __mmask16 m = first_lanes(n);
  const __m512i l = _mm512_srli_epi32(round_bf16_bits(_mm512_maskz_loadu_ps(m, lo)), 16);
  if (!hi) return l;
  return _mm512_or_si512(l, round_bf16_bits(_mm512_maskz_loadu_ps(m, hi)));
}

// Pair words along one row: up to 32 consecutive values (n of them) -> 16 words, word q =
// bf16(p[2q]) | bf16(p[2q + 1]) << 16 (values past n zero).
inline void pair_words_along(const float* p, int64_t n, uint32_t* words) {
  const __m512i a = _mm512_srli_epi32(round_bf16_bits(_mm512_maskz_loadu_ps(first_lanes(n), p)), 16);
  const __m512i b = _mm512_srli_epi32(round_bf16_bits(_mm512_maskz_loadu_ps(first_lanes(n - 16), p + 16)), 16);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words), _mm512_cvtepi32_epi16(a));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(words + 8), _mm512_cvtepi32_epi16(b));
}

// The same two from weights already held as bf16 bits: no rounding, the bits as they lie
// (along a row, a pair's two values are adjacent u16s, so the words are read directly).
inline __m512i pair_words_across(const uint16_t* lo, const uint16_t* hi, int64_t n) {
  const __mmask16 m = first_lanes(n);
  const __m512i l = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, lo));
  if (!hi) return l;
  return _mm512_or_si512(l, _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, hi)), 16));
}

inline void pair_words_along(const uint16_t* p, int64_t n, uint32_t* words) {
  const __mmask32 m = n >= 32 ? __mmask32(0xffffffffu) : n <= 0 ? __mmask32(0) : __mmask32((1u << n) - 1u);
  _mm512_storeu_si512(words, _mm512_maskz_loadu_epi16(m, p));
}

// A as MR-row slivers of k pairs: word (q, r) = bf16(op(A)[r, 2q]) | bf16(op(A)[r, 2q + 1]) << 16.
void pack_a_pairs(bool ta, const float* A, int64_t lda, int64_t i0, int64_t p0, int64_t mc, int64_t kc, uint32_t* out) {
  static_assert(MR <= 16, "one zmm of pair words per k pair");
  const int64_t kp = (kc + 1) / 2;
  alignas(64) uint32_t words[16];
  for (int64_t s = 0; s < mc; s += MR) {
    const int64_t rows = std::min<int64_t>(MR, mc - s);
    uint32_t* dst = out + s * kp;
    if (ta) {
      // op(A)[r, k] = A[k, r]: rows are contiguous for each k.
      for (int64_t q = 0; q < kp; ++q) {
        const float* lo = A + (p0 + 2 * q) * lda + i0 + s;
        _mm512_mask_storeu_epi32(dst + q * MR, first_lanes(MR), pair_words_across(lo, 2 * q + 1 < kc ? lo + lda : nullptr, rows));
      }
    } else {
      // Each row is contiguous in k: 32 values give 16 pair words, written down the sliver.
      for (int64_t r = 0; r < MR; ++r) {
        const float* row = A + (i0 + s + r) * lda + p0;
        for (int64_t q0 = 0; q0 < kp; q0 += 16) {
          if (r < rows) pair_words_along(row + 2 * q0, kc - 2 * q0, words);
          else std::memset(words, 0, sizeof(words));
          for (int64_t q = q0; q < std::min<int64_t>(kp, q0 + 16); ++q) dst[q * MR + r] = words[q - q0];
        }
      }
    }
  }
}

// B as NR-column slivers of k pairs: a column's two values adjacent, word (q, c) at
// out[(q NR + c)] as uint32 = bf16(op(B)[2q, c]) | bf16(op(B)[2q + 1, c]) << 16. B float32
// (rounded here) or bf16 bits.
template <typename TB>
void pack_b_pairs(bool tb, const TB* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc, int64_t nc, uint16_t* out) {
  static_assert(NR == 32, "two zmm of pair words per k pair");
  const int64_t kp = (kc + 1) / 2;
  alignas(64) uint32_t words[16];
  for (int64_t s = 0; s < nc; s += NR) {
    const int64_t cols = std::min<int64_t>(NR, nc - s);
    uint32_t* dst = reinterpret_cast<uint32_t*>(out + s * kp * 2);
    if (!tb) {
      // Rows 2q and 2q + 1 of op(B) are contiguous over the columns.
      for (int64_t q = 0; q < kp; ++q) {
        const TB* lo = B + (p0 + 2 * q) * ldb + j0 + s;
        const TB* hi = 2 * q + 1 < kc ? lo + ldb : nullptr;
        _mm512_storeu_si512(dst + q * NR, pair_words_across(lo, hi, cols));
        _mm512_storeu_si512(dst + q * NR + 16, pair_words_across(lo + 16, hi ? hi + 16 : nullptr, cols - 16));
      }
    } else {
      // op(B)[k, c] = B[c, k]: each column is contiguous in k.
      for (int64_t c = 0; c < NR; ++c) {
        const TB* col = B + (j0 + s + c) * ldb + p0;
        for (int64_t q0 = 0; q0 < kp; q0 += 16) {
          if (c < cols) pair_words_along(col + 2 * q0, kc - 2 * q0, words);
          else std::memset(words, 0, sizeof(words));
          for (int64_t q = q0; q < std::min<int64_t>(kp, q0 + 16); ++q) dst[q * NR + c] = words[q - q0];
        }
      }
    }
  }
}

// acc (MR x NR) = sum over k pairs; then C = alpha acc + bias + beta C on the valid part.
__attribute__((target("avx512f,avx512bf16"))) void micro_kernel_dpbf16(int64_t kp, const uint32_t* a, const uint16_t* b,
                                                                      float* C, int64_t ldc, float alpha, float beta,
                                                                      int64_t mr, int64_t nr, const float* bias) {
  static_assert(NR == 32, "two zmm of B per k pair");
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kp; ++q) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b), b1 = (__m512bh)_mm512_loadu_si512(b + 32);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(a[i]));
      acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
      acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
    }
    a += MR;
    b += 2 * NR;
  }
  // Straight into C with masked vector stores (the same operations, in the same order, as
  // alpha acc + bias, then beta C + that): a scalar copy of the tile cost about as much as a
  // short k loop on this 2x-throughput path.
  const __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
  const __mmask16 m0 = first_lanes(nr), m1 = first_lanes(nr - 16);
  const __m512 bias0 = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps();
  const __m512 bias1 = bias ? _mm512_loadu_ps(bias + 16) : _mm512_setzero_ps();
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    float* c = C + i * ldc;
    __m512 t0 = _mm512_mul_ps(al, acc[i][0]), t1 = _mm512_mul_ps(al, acc[i][1]);
    if (bias) t0 = _mm512_add_ps(t0, bias0), t1 = _mm512_add_ps(t1, bias1);
    if (beta != 0.0f) {
      t0 = _mm512_add_ps(_mm512_mul_ps(be, _mm512_maskz_loadu_ps(m0, c)), t0);
      t1 = _mm512_add_ps(_mm512_mul_ps(be, _mm512_maskz_loadu_ps(m1, c + 16)), t1);
    }
    _mm512_mask_storeu_ps(c, m0, t0);
    _mm512_mask_storeu_ps(c + 16, m1, t1);
  }
}

struct PairBuffers {
  std::vector<uint32_t> a;
  std::vector<uint16_t> b;
};
thread_local PairBuffers t_pairs;

// One thread's product on the VDPBF16PS path (the blocking of sgemm_serial); B float32
// (rounded while packing) or bf16 bits.
template <typename TB>
void sgemm_serial_dpbf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                         const TB* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    // Nothing to sum: only beta C + bias, which never reads B.
    sgemm_serial(ta, tb, M, N, 0, alpha, A, lda, static_cast<const float*>(nullptr), ldb, beta, C, ldc, bias);
    return;
  }
  alignas(64) float bias_tail[NR];
  const int64_t kpmax = (std::min<int64_t>(KC_BF16, K) + 1) / 2;
  const int64_t nc_max = std::min<int64_t>(NC, (N + NR - 1) / NR * NR), mc_max = std::min<int64_t>(MC, (M + MR - 1) / MR * MR);
  if (t_pairs.a.size() < size_t(mc_max * kpmax)) t_pairs.a.resize(size_t(mc_max * kpmax));
  if (t_pairs.b.size() < size_t(nc_max * kpmax * 2)) t_pairs.b.resize(size_t(nc_max * kpmax * 2));
  uint32_t* ap = t_pairs.a.data();
  uint16_t* bp = t_pairs.b.data();
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min<int64_t>(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC_BF16) {
      const int64_t kc = std::min<int64_t>(KC_BF16, K - pc), kp = (kc + 1) / 2;
      const float beta_eff = pc == 0 ? beta : 1.0f;
      pack_b_pairs(tb, B, ldb, pc, jc, kc, nc, bp);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min<int64_t>(MC, M - ic);
        pack_a_pairs(ta, A, lda, ic, pc, mc, kc, ap);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const float* bcols = nullptr;
          if (bias && pc == 0) {
            for (int64_t c = 0; c < NR; ++c) bias_tail[c] = c < nr ? bias[jc + jr + c] : 0.0f;
            bcols = bias_tail;
          }
          for (int64_t ir = 0; ir < mc; ir += MR)
            micro_kernel_dpbf16(kp, ap + ir * kp, bp + jr * kp * 2, C + (ic + ir) * ldc + jc + jr, ldc, alpha, beta_eff,
                                std::min<int64_t>(MR, mc - ir), nr, bcols);
        }
      }
    }
  }
}

bool use_dpbf16() {
  static const bool yes = __builtin_cpu_supports("avx512bf16") && !(std::getenv("SCALEOT_BF16") && std::strcmp(std::getenv("SCALEOT_BF16"), "emulate") == 0);
  return yes;
}
#else
bool use_dpbf16() { return false; }
#endif

const char* bf16_path() { return use_dpbf16() ? "vdpbf16ps" : "emulated"; }

// One thread's bf16 product on the path this CPU takes.
void sgemm_serial_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                       const float* B, int64_t ldb, float beta, float* C, int64_t ldc, const float* bias) {
#if defined(SCALEOT_ISA_AVX512)
  if (use_dpbf16()) return sgemm_serial_dpbf16<float>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
#endif
  sgemm_serial<true>(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, bias);
}

// Split like sgemm_bias (split_gemm); a batch runs its entries one after another.
void sgemm_bf16(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, int64_t sa,
                const float* B, int64_t ldb, int64_t sb, float beta, float* C, int64_t ldc, int64_t sc, int64_t batch,
                const float* bias) {
  for (int64_t e = 0; e < batch; ++e)
    split_gemm<float>(sgemm_serial_bf16, ta, tb, M, N, K, alpha, A + e * sa, lda, B + e * sb, ldb, beta, C + e * sc, ldc, bias);
}

// op(B) of one batch entry expanded from bf16 bits to float32 (exact), for the emulated path.
std::vector<float> expand_bf16(bool tb, const uint16_t* B, int64_t ldb, int64_t K, int64_t N) {
  const int64_t rows = tb ? N : K, cols = tb ? K : N;
  std::vector<float> out(static_cast<size_t>(rows * cols));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const uint32_t bits = uint32_t(B[r * ldb + c]) << 16;
      std::memcpy(&out[size_t(r * cols + c)], &bits, sizeof(float));
    }
  return out;
}

// sgemm_bf16 with B held as bf16 bits (weights stored in bf16 for inference). VDPBF16PS
// packs the bits directly; the emulated path expands one batch entry of B to float32 at a
// time (transient memory of one matrix), then runs the float32-FMA path on it, so both give
// what sgemm_bf16 gives on the expanded B.
void sgemm_bf16_bits(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                     int64_t sa, const uint16_t* B, int64_t ldb, int64_t sb, float beta, float* C, int64_t ldc, int64_t sc,
                     int64_t batch, const float* bias) {
  for (int64_t e = 0; e < batch; ++e) {
#if defined(SCALEOT_ISA_AVX512)
    if (use_dpbf16()) {
      split_gemm<uint16_t>(sgemm_serial_dpbf16<uint16_t>, ta, tb, M, N, K, alpha, A + e * sa, lda, B + e * sb, ldb, beta,
                           C + e * sc, ldc, bias);
      continue;
    }
#endif
    const std::vector<float> dense = expand_bf16(tb, B + e * sb, ldb, K, N);
    split_gemm<float>(sgemm_serial_bf16, ta, tb, M, N, K, alpha, A + e * sa, lda, dense.data(), tb ? K : N, beta,
                      C + e * sc, ldc, bias);
  }
}

// ---------------------------------------------------------------------------------------
// Elementwise maps (ops numbered as in kernels/elementwise.h)

constexpr int64_t kParallelElems = 1 << 16;

// Runs body(lo, hi) over [0, n) in W-aligned chunks, on all threads when n is large.
template <typename F>
void chunked(int64_t n, F body) {
  const int nt = num_threads();
  if (nt == 1 || n < kParallelElems) {
    body(int64_t(0), n);
    return;
  }
  parallel_run(nt, [&](int t, int parts) {
    int64_t lo, hi;
    split_range(n, parts, t, 64, &lo, &hi);
    if (hi > lo) body(lo, hi);
  });
}

// GELU (tanh form) written as x * sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the
// same function as 0.5 x (1 + tanh u), without the cancellation of 1 + tanh u for x << 0.
inline vf gelu_u2(vf x) {  // 2u
  const vf c2 = set1(2.0f * 0.7978845608028654f), k = set1(0.044715f);
  return mul(c2, fmadd(mul(k, mul(x, x)), x, x));
}

inline vf gelu_v(vf x) { return mul(x, sigmoid(gelu_u2(x))); }

inline vf gelu_grad_v(vf x) {
  // d/dx [x s(2u)] = s + 2 x s (1 - s) u',  with 1 - s = sigmoid(-2u) computed directly
  const vf u2 = gelu_u2(x);
  const vf s = sigmoid(u2);
  const vf s_neg = sigmoid(sub(zero(), u2));
  const vf du = mul(set1(0.7978845608028654f), fmadd(set1(3.0f * 0.044715f), mul(x, x), set1(1.0f)));
  return fmadd(mul(mul(set1(2.0f), x), mul(s, s_neg)), du, s);
}

inline vf map_v(int op, vf v, vf p) {
  switch (op) {
    case 0: return sub(zero(), v);
    case 1: return exp(v);
    case 3: return sqrt(v);
    case 4: return mul(v, p);
    case 5: return add(v, p);
    case 6: return max(v, zero());
    case 7: return gelu_v(v);
    case 8: return mul(v, sigmoid(v));
    case 9: return tanh(v);
    case 10: return sigmoid(v);
    default: return mul(v, v);  // 11: square
  }
}

void unary(int op, int64_t n, const float* x, float* y, float p) {
  if (op == 2 || op == 12) {  // log, pow: scalar libm (not on a hot path)
    chunked(n, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) y[i] = op == 2 ? std::log(x[i]) : std::pow(x[i], p);
    });
    return;
  }
  chunked(n, [&](int64_t lo, int64_t hi) {
    const vf pv = set1(p);
    int64_t i = lo;
    for (; i + W <= hi; i += W) store(y + i, map_v(op, load(x + i), pv));
    for (; i < hi; ++i) {
      // Scalar tail through the one-lane path of the same formulas.
      alignas(64) float in[W > 0 ? W : 1] = {0}, out[W > 0 ? W : 1];
      in[0] = x[i];
      store(out, map_v(op, load(in), pv));
      y[i] = out[0];
    }
  });
}

inline vf act_grad_v(int op, vf v) {
  switch (op) {
    case 6: return gt_select(v, zero(), set1(1.0f), zero());
    case 7: return gelu_grad_v(v);
    case 8: {
      const vf s = sigmoid(v);
      return mul(s, fmadd(v, sub(set1(1.0f), s), set1(1.0f)));
    }
    case 9: {
      const vf t = tanh(v);
      return sub(set1(1.0f), mul(t, t));
    }
    default: {
      const vf s = sigmoid(v);
      return mul(s, sub(set1(1.0f), s));
    }
  }
}

void activation_backward(int op, int64_t n, const float* x, const float* gy, float* gx) {
  chunked(n, [&](int64_t lo, int64_t hi) {
    int64_t i = lo;
    for (; i + W <= hi; i += W) store(gx + i, mul(load(gy + i), act_grad_v(op, load(x + i))));
    for (; i < hi; ++i) {
      alignas(64) float in[W] = {0}, out[W];
      in[0] = x[i];
      store(out, act_grad_v(op, load(in)));
      gx[i] = gy[i] * out[0];
    }
  });
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  chunked(n, [&](int64_t lo, int64_t hi) {
    const vf a = set1(alpha);
    int64_t i = lo;
    for (; i + W <= hi; i += W) store(y + i, fmadd(a, load(x + i), load(y + i)));
    for (; i < hi; ++i) y[i] += alpha * x[i];
  });
}

// ---------------------------------------------------------------------------------------
// Row reductions: dot-like sums in W lanes, combined at the end (fixed order).

inline float row_sum(const float* x, int64_t n) {
  vf s = zero();
  int64_t i = 0;
  for (; i + W <= n; i += W) s = add(s, load(x + i));
  float r = reduce_add(s);
  for (; i < n; ++i) r += x[i];
  return r;
}

inline float row_max(const float* x, int64_t n) {
  float m = -INFINITY;
  int64_t i = 0;
  if (n >= W) {
    vf mv = load(x);
    for (i = W; i + W <= n; i += W) mv = max(mv, load(x + i));
    m = reduce_max(mv);
  }
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// Runs body(i) for i in [0, n): on one thread when `serial`, else in contiguous ranges
// across the pool (each index on exactly one thread, so results do not depend on timing).
template <typename F>
void for_each_index(int64_t n, bool serial, F body) {
  const int nt = num_threads();
  if (nt == 1 || serial) {
    for (int64_t i = 0; i < n; ++i) body(i);
    return;
  }
  parallel_run(nt, [&](int t, int parts) {
    int64_t lo, hi;
    split_range(n, parts, t, 1, &lo, &hi);
    for (int64_t i = lo; i < hi; ++i) body(i);
  });
}

// Runs body(row) for rows [0, N) split across threads when the work is large.
template <typename F>
void rows_parallel(int64_t N, int64_t row_cost, F body) {
  for_each_index(N, N * row_cost < kParallelElems || N < num_threads(), body);
}

inline vf binop(int op, vf x, vf y) {
  switch (op) {
    case 0: return add(x, y);
    case 1: return sub(x, y);
    case 2: return mul(x, y);
    default: return div(x, y);
  }
}

inline float binop_s(int op, float x, float y) { return op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y; }

void binary_rows(int op, int64_t rows, int64_t cols, const float* a, int64_t ars, int64_t acs, const float* b,
                 int64_t brs, int64_t bcs, float* out) {
  auto row_range = [&](int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* ar = a + r * ars;
      const float* br = b + r * brs;
      float* o = out + r * cols;
      int64_t c = c0;
      if (acs == 1 && bcs == 1) {
        for (; c + W <= c1; c += W) store(o + c, binop(op, load(ar + c), load(br + c)));
      } else if (acs == 1) {
        const vf y = set1(br[0]);
        for (; c + W <= c1; c += W) store(o + c, binop(op, load(ar + c), y));
      } else if (bcs == 1) {
        const vf x = set1(ar[0]);
        for (; c + W <= c1; c += W) store(o + c, binop(op, x, load(br + c)));
      }
      for (; c < c1; ++c) o[c] = binop_s(op, ar[c * acs], br[c * bcs]);
    }
  };
  if (rows == 1) {  // one long row: split the columns
    chunked(cols, [&](int64_t lo, int64_t hi) { row_range(0, 1, lo, hi); });
    return;
  }
  rows_parallel(rows, cols, [&](int64_t r) { row_range(r, r + 1, 0, cols); });
}

void layernorm_forward(int64_t N, int64_t C, const float* x, const float* w, const float* b, float eps, float* y,
                       float* mean, float* rstd) {
  rows_parallel(N, C, [&](int64_t n) {
    const float* xr = x + n * C;
    float* yr = y + n * C;
    const float m = row_sum(xr, C) / static_cast<float>(C);
    const vf mv = set1(m);
    vf acc = zero();
    int64_t c = 0;
    for (; c + W <= C; c += W) {
      const vf d = sub(load(xr + c), mv);
      acc = fmadd(d, d, acc);
    }
    float var = reduce_add(acc);
    for (; c < C; ++c) var += (xr[c] - m) * (xr[c] - m);
    var /= static_cast<float>(C);
    const float r = 1.0f / std::sqrt(var + eps);
    const vf rv = set1(r);
    c = 0;
    for (; c + W <= C; c += W) {
      const vf xh = mul(sub(load(xr + c), mv), rv);
      vf o = mul(xh, load(w + c));
      if (b) o = add(o, load(b + c));
      store(yr + c, o);
    }
    for (; c < C; ++c) yr[c] = (xr[c] - m) * r * w[c] + (b ? b[c] : 0.0f);
    mean[n] = m;
    rstd[n] = r;
  });
}

void layernorm_backward(int64_t N, int64_t C, const float* x, const float* w, const float* mean, const float* rstd,
                        const float* gy, float* gx, float* gw, float* gb) {
  const int nt = (num_threads() > 1 && N * C >= kParallelElems && N >= num_threads()) ? num_threads() : 1;
  // Per-thread partial sums of gw and gb, combined in thread order afterwards.
  std::vector<float> partial(static_cast<size_t>(2 * nt * C), 0.0f);
  auto work = [&](int t, int parts) {
    int64_t lo, hi;
    split_range(N, parts, t, 1, &lo, &hi);
    float* pgw = partial.data() + (2 * t) * C;
    float* pgb = partial.data() + (2 * t + 1) * C;
    for (int64_t n = lo; n < hi; ++n) {
      const float* xr = x + n * C;
      const float* gr = gy + n * C;
      float* gxr = gx + n * C;
      const vf mv = set1(mean[n]), rv = set1(rstd[n]);
      vf sd = zero(), sdx = zero();
      int64_t c = 0;
      for (; c + W <= C; c += W) {
        const vf xh = mul(sub(load(xr + c), mv), rv);
        const vf g = load(gr + c);
        const vf d = mul(g, load(w + c));
        sd = add(sd, d);
        sdx = fmadd(d, xh, sdx);
        store(pgw + c, fmadd(g, xh, load(pgw + c)));
        store(pgb + c, add(g, load(pgb + c)));
      }
      float sum_d = reduce_add(sd), sum_dx = reduce_add(sdx);
      for (; c < C; ++c) {
        const float xh = (xr[c] - mean[n]) * rstd[n];
        const float d = gr[c] * w[c];
        sum_d += d;
        sum_dx += d * xh;
        pgw[c] += gr[c] * xh;
        pgb[c] += gr[c];
      }
      const vf md = set1(sum_d / static_cast<float>(C)), mdx = set1(sum_dx / static_cast<float>(C));
      c = 0;
      for (; c + W <= C; c += W) {
        const vf xh = mul(sub(load(xr + c), mv), rv);
        const vf d = mul(load(gr + c), load(w + c));
        store(gxr + c, mul(sub(sub(d, md), mul(xh, mdx)), rv));
      }
      const float r = rstd[n], m = mean[n];
      for (; c < C; ++c) {
        const float xh = (xr[c] - m) * r;
        gxr[c] = (gr[c] * w[c] - sum_d / C - xh * (sum_dx / C)) * r;
      }
    }
  };
  if (nt == 1) work(0, 1);
  else parallel_run(nt, work);
  for (int t = 0; t < nt; ++t) {
    const float* pgw = partial.data() + (2 * t) * C;
    const float* pgb = partial.data() + (2 * t + 1) * C;
    for (int64_t c = 0; c < C; ++c) {
      if (gw) gw[c] += pgw[c];
      if (gb) gb[c] += pgb[c];
    }
  }
}

void rmsnorm_forward(int64_t N, int64_t C, const float* x, const float* w, float eps, float* y, float* rstd) {
  rows_parallel(N, C, [&](int64_t n) {
    const float* xr = x + n * C;
    float* yr = y + n * C;
    vf acc = zero();
    int64_t c = 0;
    for (; c + W <= C; c += W) {
      const vf v = load(xr + c);
      acc = fmadd(v, v, acc);
    }
    float ss = reduce_add(acc);
    for (; c < C; ++c) ss += xr[c] * xr[c];
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(C) + eps);
    const vf rv = set1(r);
    c = 0;
    for (; c + W <= C; c += W) store(yr + c, mul(mul(load(xr + c), rv), load(w + c)));
    for (; c < C; ++c) yr[c] = xr[c] * r * w[c];
    rstd[n] = r;
  });
}

void rmsnorm_backward(int64_t N, int64_t C, const float* x, const float* w, const float* rstd, const float* gy,
                      float* gx, float* gw) {
  const int nt = (num_threads() > 1 && N * C >= kParallelElems && N >= num_threads()) ? num_threads() : 1;
  std::vector<float> partial(static_cast<size_t>(nt * C), 0.0f);  // per-thread gw, summed in order
  auto work = [&](int t, int parts) {
    int64_t lo, hi;
    split_range(N, parts, t, 1, &lo, &hi);
    float* pgw = partial.data() + t * C;
    for (int64_t n = lo; n < hi; ++n) {
      const float* xr = x + n * C;
      const float* gr = gy + n * C;
      float* gxr = gx + n * C;
      const float r = rstd[n];
      const vf rv = set1(r);
      vf acc = zero();
      int64_t c = 0;
      for (; c + W <= C; c += W) {
        const vf xh = mul(load(xr + c), rv);
        const vf g = load(gr + c);
        acc = fmadd(mul(g, load(w + c)), xh, acc);
        store(pgw + c, fmadd(g, xh, load(pgw + c)));
      }
      float sum_dx = reduce_add(acc);
      for (; c < C; ++c) {
        const float xh = xr[c] * r;
        sum_dx += gr[c] * w[c] * xh;
        pgw[c] += gr[c] * xh;
      }
      const float m = sum_dx / static_cast<float>(C);
      const vf mv = set1(m);
      c = 0;
      for (; c + W <= C; c += W) {
        const vf xh = mul(load(xr + c), rv);
        store(gxr + c, mul(sub(mul(load(gr + c), load(w + c)), mul(xh, mv)), rv));
      }
      for (; c < C; ++c) gxr[c] = (gr[c] * w[c] - xr[c] * r * m) * r;
    }
  };
  if (nt == 1) work(0, 1);
  else parallel_run(nt, work);
  if (gw)
    for (int t = 0; t < nt; ++t)
      for (int64_t c = 0; c < C; ++c) gw[c] += partial[t * C + c];
}

// ---------------------------------------------------------------------------------------
// Cross-entropy over the vocabulary: one pass for the max, one for the sum of exp.

inline float row_sum_exp(const float* x, int64_t n, float m) {
  const vf mv = set1(m);
  vf s = zero();
  int64_t i = 0;
  for (; i + W <= n; i += W) s = add(s, exp(sub(load(x + i), mv)));
  float r = reduce_add(s);
  for (; i < n; ++i) r += std::exp(x[i] - m);
  return r;
}

void cross_entropy_forward(int64_t N, int64_t V, const float* logits, const int32_t* targets, float* losses,
                           float* lse) {
  rows_parallel(N, V, [&](int64_t n) {
    const float* row = logits + n * V;
    const float m = row_max(row, V);
    const float l = m + std::log(row_sum_exp(row, V, m));
    lse[n] = l;
    losses[n] = targets[n] < 0 ? 0.0f : l - row[targets[n]];
  });
}

void cross_entropy_backward(int64_t N, int64_t V, const float* logits, const int32_t* targets, const float* lse,
                            const float* g, float* glogits) {
  rows_parallel(N, V, [&](int64_t n) {
    const float* row = logits + n * V;
    float* grow = glogits + n * V;
    if (targets[n] < 0) {
      std::memset(grow, 0, sizeof(float) * V);
      return;
    }
    const vf gv = set1(g[n]), lv = set1(lse[n]);
    int64_t j = 0;
    for (; j + W <= V; j += W) store(grow + j, mul(gv, exp(sub(load(row + j), lv))));
    for (; j < V; ++j) grow[j] = g[n] * std::exp(row[j] - lse[n]);
    grow[targets[n]] -= g[n];
  });
}

// ---------------------------------------------------------------------------------------
// Causal attention: per (batch, kv head) unit on one thread, GEMMs on packed panels,
// causal row blocks only touch the keys they can see.

constexpr int64_t kRowBlock = 64;

thread_local std::vector<float> t_scratch;

// The products of one (batch, head) unit: float32, or bf16 operands with float32
// accumulation (PyTorch's autocast runs attention's matmuls in bf16 too; softmax, its
// backward's row sums and P itself stay float32).
using SerialGemm = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t,
                            float, float*, int64_t, const float*);
SerialGemm attention_gemm(bool bf16) { return bf16 ? sgemm_serial_bf16 : static_cast<SerialGemm>(sgemm_serial<false>); }

void attention_forward(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, float scale,
                       View<const float> q, View<const float> k, View<const float> v, View<float> out, float* P,
                       bool bf16) {
  const SerialGemm gemm = attention_gemm(bf16);
  const int64_t group = Hq / Hkv, shift = Tk - Tq;
  const int64_t units = B * Hq;
  auto unit = [&](int64_t u) {
    const int64_t b = u / Hq, h = u % Hq, hk = h / group;
    const float* qh = q.at(b, h);
    const float* kh = k.at(b, hk);
    const float* vh = v.at(b, hk);
    float* oh = out.at(b, h);
    // Without P (inference) a row block's probabilities live in this thread's scratch only
    // while the block is computed: no (Tq x Tk) array per head to allocate and touch.
    float* ph = nullptr;
    if (P) {
      ph = P + ((b * Hq + h) * Tq) * Tk;
    } else {
      if (t_scratch.size() < static_cast<size_t>(kRowBlock * Tk)) t_scratch.resize(static_cast<size_t>(kRowBlock * Tk));
    }
    for (int64_t i0 = 0; i0 < Tq; i0 += kRowBlock) {
      const int64_t rows = std::min(kRowBlock, Tq - i0);
      const int64_t keys = std::min(Tk, i0 + rows + shift);  // visible to the block's last row
      float* pblock = P ? ph + i0 * Tk : t_scratch.data();  // row i0 of the block
      // S = scale * Q K^T for the visible keys
      gemm(false, true, rows, keys, D, scale, qh + i0 * q.sr, q.sr, kh, k.sr, 0.0f, pblock, Tk, nullptr);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r, last = i + shift;  // inclusive
        float* prow = pblock + r * Tk;
        const float m = row_max(prow, last + 1);
        const vf mv = set1(m);
        vf s = zero();
        int64_t j = 0;
        for (; j + W <= last + 1; j += W) {
          const vf e = exp(sub(load(prow + j), mv));
          store(prow + j, e);
          s = add(s, e);
        }
        float sum = reduce_add(s);
        for (; j <= last; ++j) {
          prow[j] = std::exp(prow[j] - m);
          sum += prow[j];
        }
        const float inv = 1.0f / sum;
        const vf iv = set1(inv);
        j = 0;
        for (; j + W <= last + 1; j += W) store(prow + j, mul(load(prow + j), iv));
        for (; j <= last; ++j) prow[j] *= inv;
        for (j = last + 1; j < Tk; ++j) prow[j] = 0.0f;
      }
      // O = P V over the visible keys
      gemm(false, false, rows, D, keys, 1.0f, pblock, Tk, vh, v.sr, 0.0f, oh + i0 * out.sr, out.sr, nullptr);
    }
  };
  for_each_index(units, units == 1, unit);
}

void attention_backward(int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, float scale,
                        View<const float> q, View<const float> k, View<const float> v, const float* P,
                        View<const float> gout, View<float> gq, View<float> gk, View<float> gv, bool bf16) {
  const SerialGemm gemm = attention_gemm(bf16);
  const int64_t group = Hq / Hkv, shift = Tk - Tq;
  const int64_t units = B * Hkv;  // a KV head and all its query heads stay on one thread
  auto unit = [&](int64_t u) {
    const int64_t b = u / Hkv, hk = u % Hkv;
    const float* kh = k.at(b, hk);
    const float* vh = v.at(b, hk);
    float* gkh = gk.at(b, hk);
    float* gvh = gv.at(b, hk);
    for (int64_t j = 0; j < Tk; ++j) {
      std::memset(gkh + j * gk.sr, 0, sizeof(float) * D);
      std::memset(gvh + j * gv.sr, 0, sizeof(float) * D);
    }
    if (t_scratch.size() < static_cast<size_t>(Tq * Tk)) t_scratch.resize(static_cast<size_t>(Tq * Tk));
    float* ds = t_scratch.data();
    for (int64_t h = hk * group; h < (hk + 1) * group; ++h) {
      const float* qh = q.at(b, h);
      const float* ph = P + ((b * Hq + h) * Tq) * Tk;
      const float* goh = gout.at(b, h);
      float* gqh = gq.at(b, h);
      for (int64_t i0 = 0; i0 < Tq; i0 += kRowBlock) {
        const int64_t rows = std::min(kRowBlock, Tq - i0);
        const int64_t keys = std::min(Tk, i0 + rows + shift);
        // dP = dO V^T on the visible keys
        gemm(false, true, rows, keys, D, 1.0f, goh + i0 * gout.sr, gout.sr, vh, v.sr, 0.0f, ds + i0 * Tk, Tk, nullptr);
        for (int64_t r = 0; r < rows; ++r) {
          const int64_t i = i0 + r, last = i + shift;
          const float* prow = ph + i * Tk;
          float* drow = ds + i * Tk;
          vf acc = zero();
          int64_t j = 0;
          for (; j + W <= last + 1; j += W) acc = fmadd(load(prow + j), load(drow + j), acc);
          float dot = reduce_add(acc);
          for (; j <= last; ++j) dot += prow[j] * drow[j];
          // dS = P (dP - dot) * scale
          const vf dv = set1(dot), sv = set1(scale);
          j = 0;
          for (; j + W <= last + 1; j += W) store(drow + j, mul(mul(load(prow + j), sub(load(drow + j), dv)), sv));
          for (; j <= last; ++j) drow[j] = prow[j] * (drow[j] - dot) * scale;
          for (j = last + 1; j < keys; ++j) drow[j] = 0.0f;
        }
        // dQ = dS K
        gemm(false, false, rows, D, keys, 1.0f, ds + i0 * Tk, Tk, kh, k.sr, 0.0f, gqh + i0 * gq.sr, gq.sr, nullptr);
        // dK += dS^T Q,  dV += P^T dO  (over the visible keys)
        gemm(true, false, keys, D, rows, 1.0f, ds + i0 * Tk, Tk, qh + i0 * q.sr, q.sr, 1.0f, gkh, gk.sr, nullptr);
        gemm(true, false, keys, D, rows, 1.0f, ph + i0 * Tk, Tk, goh + i0 * gout.sr, gout.sr, 1.0f, gvh, gv.sr, nullptr);
      }
    }
  };
  for_each_index(units, units == 1, unit);
}

// ---------------------------------------------------------------------------------------
// AdamW (torch semantics, see kernels/adamw.h)

void adamw_step(int64_t n, float* p, const float* g, float* m, float* v, float decay, float b1, float omb1, float b2,
                float omb2, float step_size, float bc2_sqrt, float eps) {
  chunked(n, [&](int64_t lo, int64_t hi) {
    const vf dv = set1(decay), b1v = set1(b1), o1 = set1(omb1), b2v = set1(b2), o2 = set1(omb2),
             ss = set1(-step_size), bc = set1(bc2_sqrt), ev = set1(eps);
    int64_t i = lo;
    for (; i + W <= hi; i += W) {
      const vf gi = load(g + i);
      const vf mi = add(mul(load(m + i), b1v), mul(gi, o1));
      const vf vi = add(mul(load(v + i), b2v), mul(mul(gi, gi), o2));
      const vf denom = add(div(sqrt(vi), bc), ev);
      store(p + i, add(mul(load(p + i), dv), mul(ss, div(mi, denom))));
      store(m + i, mi);
      store(v + i, vi);
    }
    for (; i < hi; ++i) {
      const float gi = g[i];
      const float mi = m[i] * b1 + gi * omb1;
      const float vi = v[i] * b2 + gi * gi * omb2;
      const float denom = std::sqrt(vi) / bc2_sqrt + eps;
      p[i] = p[i] * decay + (-step_size) * (mi / denom);
      m[i] = mi;
      v[i] = vi;
    }
  });
}

const FastKernels kTable = {
    ISA_NAME,          sgemm,          sgemm_bias,         sgemm_batched,         sgemm_bf16,           sgemm_bf16_bits, bf16_path,
    binary_rows,       unary,
    activation_backward, axpy,         layernorm_forward,     layernorm_backward,
    rmsnorm_forward,   rmsnorm_backward,   attention_forward,     attention_backward,
    cross_entropy_forward, cross_entropy_backward,
    adamw_step,
};

}  // namespace ISA_NS

const FastKernels* TABLE_FN() { return &ISA_NS::kTable; }

}  // namespace scaleot
#endif  // SCALEOT_ISA_UNAVAILABLE
