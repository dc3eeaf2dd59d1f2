// Probe: the bf16 GEMM's packing cost (float32 -> bf16 pair words) against the whole product,
// linked against the built AVX-512 kernel object. Evidence for docs/evidence/bf16-sgemm-gap.md;
// not part of the build. After `npm install`:
//   O=build/Release/obj.target; g++ -O2 -o /tmp/pack_probe bench/probes/bf16_pack_probe.cc \
//     $O/fast_avx512/native/fast/fast_kernels.o $O/scaleot_native/native/threadpool.o -lpthread
//   SCALEOT_NUM_THREADS=1 /tmp/pack_probe
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <vector>
#include <random>
namespace scaleot { namespace isa_avx512 {
void pack_a_pairs(bool ta, const float* A, int64_t lda, int64_t i0, int64_t p0, int64_t mc, int64_t kc, uint32_t* out);
template <typename TB> void pack_b_pairs(bool tb, const TB* B, int64_t ldb, int64_t p0, int64_t j0, int64_t kc, int64_t nc, uint16_t* out);
void sgemm_bf16(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t, const float*, int64_t, int64_t, float, float*, int64_t, int64_t, int64_t, const float*);
}}
using namespace scaleot::isa_avx512;
template <class F> double tm(F f){ for(int i=0;i<3;i++) f(); double best=1e9; for(int r=0;r<9;r++){auto t0=std::chrono::steady_clock::now(); for(int i=0;i<10;i++) f(); double s=std::chrono::duration<double>(std::chrono::steady_clock::now()-t0).count()/10; if(s<best)best=s;} return best*1e3; }
int main(){
  const int n=1024; std::vector<float> A(n*n), B(n*n), C(n*n); std::mt19937 g(1); for(auto&x:A)x=g()/4e9f; for(auto&x:B)x=g()/4e9f;
  std::vector<uint32_t> ap(192*512); std::vector<uint16_t> bp(1024*1024);
  printf("pack A 1024x1024 (ta=0), in 192-row blocks: %.3f ms\n", tm([&]{ for(int i=0;i<n;i+=192) pack_a_pairs(false,A.data(),n,i,0,std::min(192,n-i),1024,ap.data()); }));
  printf("pack A 1024x1024 (ta=1): %.3f ms\n", tm([&]{ for(int i=0;i<n;i+=192) pack_a_pairs(true,A.data(),n,i,0,std::min(192,n-i),1024,ap.data()); }));
  printf("pack B 1024x1024 (tb=0): %.3f ms\n", tm([&]{ pack_b_pairs<float>(false,B.data(),n,0,0,1024,1024,bp.data()); }));
  printf("pack B 1024x1024 (tb=1): %.3f ms\n", tm([&]{ pack_b_pairs<float>(true,B.data(),n,0,0,1024,1024,bp.data()); }));
  double t=tm([&]{ sgemm_bf16(false,false,n,n,n,1,A.data(),n,0,B.data(),n,0,0,C.data(),n,0,1,nullptr); });
  printf("sgemm_bf16 1024^3: %.3f ms = %.0f GFLOP/s\n", t, 2.0*n*n*n/t/1e6);
}
