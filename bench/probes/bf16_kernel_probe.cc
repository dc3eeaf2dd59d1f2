// Probe: the VDPBF16PS micro-kernel's rate on this CPU outside the GEMM (one thread), in the
// GEMM's own loop shape (16 A slivers against each of 32 B slivers, 512 k pairs), with and
// without software prefetch, with constant or random bf16 data (-DRND=1). Evidence for
// docs/evidence/bf16-sgemm-gap.md; not part of the build.
//   g++ -O3 -march=native -DRND=1 -o /tmp/kernel_probe bench/probes/bf16_kernel_probe.cc && /tmp/kernel_probe
#ifndef RND
#define RND 0
#endif
#include <immintrin.h>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <vector>
#include <cstdlib>
template <int PF>
__attribute__((noinline)) void kern(int64_t kp, const uint32_t* a, const uint16_t* b, float* C, int64_t ldc) {
  constexpr int MR=12, NV=2;
  __m512 acc[MR][NV];
  for (int i = 0; i < MR; ++i) for (int j=0;j<NV;++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t q = 0; q < kp; ++q) {
    if (PF) { _mm_prefetch((const char*)(b + 64*PF), _MM_HINT_T0); _mm_prefetch((const char*)(b + 64*PF + 32), _MM_HINT_T0);}
    __m512bh bv[NV];
    for (int j=0;j<NV;++j) bv[j]=(__m512bh)_mm512_loadu_si512(b + 32*j);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(int(a[i]));
      for (int j=0;j<NV;++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], ai, bv[j]);
    }
    a += MR; b += 32 * NV;
  }
  for (int i = 0; i < MR; ++i) for (int j=0;j<NV;++j) _mm512_storeu_ps(C + i*ldc + 16*j, _mm512_add_ps(acc[i][j], _mm512_loadu_ps(C + i*ldc + 16*j)));
}
template <class F> void bench(const char* name, int64_t kp, int nir, int njr, F f) {
  // Like the real loop: njr B slivers, each against nir A slivers.
  std::vector<uint32_t> a(12 * kp * nir); for (auto& x : a) x = RND ? ((0x3f00u + (rand() & 0xff)) << 16 | (0x3f00u + (rand() & 0xff))) : 0x3f803f80u;
  std::vector<uint16_t> b(64 * kp * njr); for (auto& x : b) x = RND ? 0x3e00 + (rand() & 0x1ff) : 0x3f80;
  std::vector<float> C(12 * nir * 32 * njr);
  const int64_t ldc = 32 * njr;
  auto pass = [&] { for (int jr = 0; jr < njr; ++jr) for (int ir = 0; ir < nir; ++ir) f(kp, a.data() + ir * 12 * kp, b.data() + jr * 64 * kp, C.data() + ir * 12 * ldc + jr * 32, ldc); };
  pass();
  double best = 0;
  for (int r = 0; r < 9; ++r) {
    auto t0 = std::chrono::steady_clock::now();
    const int iters = 10;
    for (int w = 0; w < iters; ++w) pass();
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double gf = 4.0 * 12 * 32 * kp * nir * njr * iters / s / 1e9;
    if (gf > best) best = gf;
  }
  printf("%-8s kp%4ld nir%3d njr%3d %6.1f GFLOP/s\n", name, (long)kp, nir, njr, best);
}
int main() {
  for (int rep = 0; rep < 2; ++rep) {
  bench("pf0", 512, 16, 32, kern<0>);
  bench("pf4", 512, 16, 32, kern<4>);
  bench("pf8", 512, 16, 32, kern<8>);
  bench("pf0", 128, 16, 32, kern<0>);
  bench("pf4", 128, 16, 32, kern<4>);
  bench("pf0", 512, 8, 32, kern<0>);
  bench("pf0", 512, 1, 1, kern<0>);
  }
}
