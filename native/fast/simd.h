// A thin vector abstraction over the instruction set this translation unit is compiled
// for: AVX-512 (16 lanes), AVX2+FMA (8 lanes) or portable scalar code (1 lane). Kernels
// are written once against it. exp is a Cephes-style polynomial (about 1 ulp), because a
// scalar libm call in the inner loop made GELU 25-50x slower in the prototype.
#pragma once
#include <cmath>
#include <cstdint>

#if defined(SCALEOT_ISA_AVX512) || defined(SCALEOT_ISA_AVX2)
#include <immintrin.h>
#endif

namespace scaleot {
namespace simd {

#if defined(SCALEOT_ISA_AVX512)
using vf = __m512;
constexpr int W = 16;
inline vf load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(float* p, vf v) { _mm512_storeu_ps(p, v); }
inline vf set1(float x) { return _mm512_set1_ps(x); }
inline vf zero() { return _mm512_setzero_ps(); }
inline vf add(vf a, vf b) { return _mm512_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm512_div_ps(a, b); }
inline vf fmadd(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
inline vf max(vf a, vf b) { return _mm512_max_ps(a, b); }
inline vf min(vf a, vf b) { return _mm512_min_ps(a, b); }
inline vf sqrt(vf a) { return _mm512_sqrt_ps(a); }
inline vf round_nearest(vf a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf pow2i(vf n) {  // 2^n for integral n in [-126, 127]
  __m512i i = _mm512_cvtps_epi32(n);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23));
}
inline vf gt_select(vf a, vf b, vf if_true, vf if_false) {  // a > b ? t : f
  __mmask16 m = _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
  return _mm512_mask_blend_ps(m, if_false, if_true);
}
inline float reduce_add(vf v) { return _mm512_reduce_add_ps(v); }
inline float reduce_max(vf v) { return _mm512_reduce_max_ps(v); }
#elif defined(SCALEOT_ISA_AVX2)
using vf = __m256;
constexpr int W = 8;
inline vf load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, vf v) { _mm256_storeu_ps(p, v); }
inline vf set1(float x) { return _mm256_set1_ps(x); }
inline vf zero() { return _mm256_setzero_ps(); }
inline vf add(vf a, vf b) { return _mm256_add_ps(a, b); }
inline vf sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
inline vf mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
inline vf div(vf a, vf b) { return _mm256_div_ps(a, b); }
inline vf fmadd(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
inline vf max(vf a, vf b) { return _mm256_max_ps(a, b); }
inline vf min(vf a, vf b) { return _mm256_min_ps(a, b); }
inline vf sqrt(vf a) { return _mm256_sqrt_ps(a); }
inline vf round_nearest(vf a) { return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline vf pow2i(vf n) {
  __m256i i = _mm256_cvtps_epi32(n);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23));
}
inline vf gt_select(vf a, vf b, vf if_true, vf if_false) {
  return _mm256_blendv_ps(if_false, if_true, _mm256_cmp_ps(a, b, _CMP_GT_OQ));
}
inline float reduce_add(vf v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float reduce_max(vf v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#else
using vf = float;
constexpr int W = 1;
inline vf load(const float* p) { return *p; }
inline void store(float* p, vf v) { *p = v; }
inline vf set1(float x) { return x; }
inline vf zero() { return 0.0f; }
inline vf add(vf a, vf b) { return a + b; }
inline vf sub(vf a, vf b) { return a - b; }
inline vf mul(vf a, vf b) { return a * b; }
inline vf div(vf a, vf b) { return a / b; }
inline vf fmadd(vf a, vf b, vf c) { return a * b + c; }
inline vf max(vf a, vf b) { return a > b ? a : b; }
inline vf min(vf a, vf b) { return a < b ? a : b; }
inline vf sqrt(vf a) { return std::sqrt(a); }
inline vf round_nearest(vf a) { return std::nearbyint(a); }
inline vf pow2i(vf n) { return std::ldexp(1.0f, static_cast<int>(n)); }
inline vf gt_select(vf a, vf b, vf t, vf f) { return a > b ? t : f; }
inline float reduce_add(vf v) { return v; }
inline float reduce_max(vf v) { return v; }
#endif

/** e^x, Cephes expf polynomial; inputs clamped to the float range. */
inline vf exp(vf x) {
  x = min(max(x, set1(-87.3f)), set1(88.3f));
  const vf n = round_nearest(mul(x, set1(1.44269504088896341f)));
  // r = x - n ln2, in two parts for accuracy
  vf r = fmadd(n, set1(-0.693359375f), x);
  r = fmadd(n, set1(2.12194440e-4f), r);
  vf p = set1(1.9875691500e-4f);
  p = fmadd(p, r, set1(1.3981999507e-3f));
  p = fmadd(p, r, set1(8.3334519073e-3f));
  p = fmadd(p, r, set1(4.1665795894e-2f));
  p = fmadd(p, r, set1(1.6666665459e-1f));
  p = fmadd(p, r, set1(5.0000001201e-1f));
  const vf r2 = mul(r, r);
  p = fmadd(p, r2, add(r, set1(1.0f)));
  return mul(p, pow2i(n));
}

inline vf abs(vf x) { return max(x, sub(zero(), x)); }

/**
 * tanh: 1 - 2 / (e^{2x} + 1) for |x| >= 0.625 (exact limits thanks to the clamp in exp);
 * Cephes' odd polynomial below that, where the subtraction would cancel.
 */
inline vf tanh(vf x) {
  const vf e = exp(add(x, x));
  const vf big = sub(set1(1.0f), div(set1(2.0f), add(e, set1(1.0f))));
  const vf z = mul(x, x);
  vf p = set1(-5.70498872745e-3f);
  p = fmadd(p, z, set1(2.06390887954e-2f));
  p = fmadd(p, z, set1(-5.37397155531e-2f));
  p = fmadd(p, z, set1(1.33314422036e-1f));
  p = fmadd(p, z, set1(-3.33332819422e-1f));
  const vf small = fmadd(mul(p, z), x, x);
  return gt_select(abs(x), set1(0.625f), big, small);
}

inline vf sigmoid(vf x) { return div(set1(1.0f), add(set1(1.0f), exp(sub(zero(), x)))); }

}  // namespace simd
}  // namespace scaleot
