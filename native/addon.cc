// N-API bindings of the compute core. Each binding unpacks typed arrays owned by
// JavaScript, checks every length against the dimensions it was given, and runs one kernel
// from kernels/ for float32 or float64 (the float64 path serves finite-difference checks).
// Nothing here keeps a pointer or an allocation past the call (see napi_args.h).
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/adamw.h"
#include "kernels/attention.h"
#include "kernels/cross_entropy.h"
#include "kernels/elementwise.h"
#include "kernels/gemm.h"
#include "kernels/layout.h"
#include "kernels/norm.h"
#include "kernels/svd.h"
#include "fast/fast_kernels.h"
#include "napi_args.h"
#include "threadpool.h"

using namespace scaleot;

namespace {

// The fast float32 kernels in use, or null for the reference kernels ("reference" mode).
const FastKernels* g_fast = nullptr;
std::string g_mode = "reference";

// float32 calls go to the fast table when one is selected; float64 always runs the
// reference kernels (the precise path for finite-difference checks).
template <typename T>
const FastKernels* fast_for() {
  return std::is_same<T, float>::value ? g_fast : nullptr;
}

bool cpu_has(const char* feature) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (std::string(feature) == "avx512")
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  if (std::string(feature) == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return false;
}

// Selects the kernels: "auto" (best the CPU has), "avx512", "avx2", "portable" or
// "reference". Returns an error message, or "" on success.
std::string select_kernels(const std::string& mode) {
  const FastKernels* table = nullptr;
  std::string chosen = mode;
  if (mode == "auto") {
    if (cpu_has("avx512") && fast_kernels_avx512()) table = fast_kernels_avx512();
    else if (cpu_has("avx2") && fast_kernels_avx2()) table = fast_kernels_avx2();
    else table = fast_kernels_portable();
    chosen = table->isa;
  } else if (mode == "avx512" || mode == "avx2") {
    table = mode == "avx512" ? fast_kernels_avx512() : fast_kernels_avx2();
    if (!table || !cpu_has(mode.c_str())) return "this CPU or build has no " + mode + " support";
  } else if (mode == "portable") {
    table = fast_kernels_portable();
  } else if (mode != "reference") {
    return "unknown kernel set '" + mode + "' (expected auto, avx512, avx2, portable or reference)";
  }
  g_fast = table;
  g_mode = chosen;
  return "";
}

// Dispatches `body` (a generic lambda taking a type tag) on the dtype of array `ref`.
template <typename F>
void dispatch(Args& args, const Array& ref, F body) {
  if (!args.ok()) return;
  if (ref.dtype == DType::F32) body(float(0));
  else if (ref.dtype == DType::F64) body(double(0));
  else args.fail("expected Float32Array or Float64Array");
}

template <typename T>
T* ptr(const Array& a) {
  return static_cast<T*>(a.data);
}

float* F32(const Array& a) { return static_cast<float*>(a.data); }

size_t usz(int64_t v) { return v < 0 ? 0 : static_cast<size_t>(v); }

// The arguments gemm and gemmBf16 share: (transA, transB, M, N, K, alpha, A, lda, B, ldb,
// beta, C, ldc, batch, strideA, strideB, strideC), checked against the arrays' lengths.
struct GemmCall {
  bool ta, tb;
  int64_t M, N, K;
  double alpha, beta;
  Array A, B, C;
  int64_t lda, ldb, ldc, batch, sA, sB, sC;
};

// Reads and checks a GemmCall; the operands must have dtype `want` (the first's when null),
// except that B may also hold bf16 bits (U16) when `b_may_be_bits`.
bool read_gemm(Args& args, GemmCall& g, const DType* want, bool b_may_be_bits = false) {
  g.ta = args.i64(0) != 0, g.tb = args.i64(1) != 0;
  g.M = args.i64(2), g.N = args.i64(3), g.K = args.i64(4);
  g.alpha = args.f64(5);
  g.A = args.array(6);
  g.lda = args.i64(7);
  g.B = args.array(8);
  g.ldb = args.i64(9);
  g.beta = args.f64(10);
  g.C = args.array(11);
  g.ldc = args.i64(12), g.batch = args.i64(13), g.sA = args.i64(14), g.sB = args.i64(15), g.sC = args.i64(16);
  if (!args.require(g.M >= 0 && g.N >= 0 && g.K >= 0 && g.batch >= 1, "bad dimensions")) return false;
  // Last element touched by each operand, for the bounds check.
  const int64_t arows = g.ta ? g.K : g.M, acols = g.ta ? g.M : g.K, brows = g.tb ? g.N : g.K, bcols = g.tb ? g.K : g.N;
  auto extent = [](int64_t rows, int64_t cols, int64_t ld, int64_t stride, int64_t batch) -> int64_t {
    if (rows == 0 || cols == 0) return 0;
    return (batch - 1) * stride + (rows - 1) * ld + cols;
  };
  if (!args.require(g.lda >= acols && g.ldb >= bcols && g.ldc >= g.N, "leading dimension too small")) return false;
  const DType dt = want ? *want : g.A.dtype;
  args.check(g.A, dt, usz(extent(arows, acols, g.lda, g.sA, g.batch)), "A");
  args.check(g.B, b_may_be_bits && g.B.dtype == DType::U16 ? DType::U16 : dt, usz(extent(brows, bcols, g.ldb, g.sB, g.batch)), "B");
  args.check(g.C, dt, usz(extent(g.M, g.N, g.ldc, g.sC, g.batch)), "C");
  return args.ok();
}

// gemm(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, batch, strideA, strideB, strideC)
napi_value Gemm(napi_env env, napi_callback_info info) {
  Args args(env, info, "gemm");
  GemmCall g;
  if (!read_gemm(args, g, nullptr)) return nullptr;
  dispatch(args, g.A, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>()) {
      f->sgemm_batched(g.ta, g.tb, g.M, g.N, g.K, float(g.alpha), reinterpret_cast<const float*>(g.A.data), g.lda, g.sA,
                       reinterpret_cast<const float*>(g.B.data), g.ldb, g.sB, float(g.beta),
                       reinterpret_cast<float*>(g.C.data), g.ldc, g.sC, g.batch);
      return;
    }
    for (int64_t b = 0; b < g.batch; ++b)
      gemm_ref<T>(g.ta, g.tb, g.M, g.N, g.K, T(g.alpha), ptr<T>(g.A) + b * g.sA, g.lda, ptr<T>(g.B) + b * g.sB, g.ldb,
                  T(g.beta), ptr<T>(g.C) + b * g.sC, g.ldc);
  });
  return args.ok() ? undefined(env) : nullptr;
}

// gemmBias(transA, transB, M, N, K, A, lda, B, ldb, bias, C, ldc): C = op(A) op(B) + bias
// (bias broadcast over rows): a linear layer in one pass over its output.
napi_value GemmBias(napi_env env, napi_callback_info info) {
  Args args(env, info, "gemmBias");
  const bool ta = args.i64(0) != 0, tb = args.i64(1) != 0;
  const int64_t M = args.i64(2), N = args.i64(3), K = args.i64(4);
  Array A = args.array(5);
  const int64_t lda = args.i64(6);
  Array B = args.array(7);
  const int64_t ldb = args.i64(8);
  Array bias = args.array(9), C = args.array(10);
  const int64_t ldc = args.i64(11);
  if (!args.require(M >= 0 && N >= 0 && K >= 0, "bad dimensions")) return nullptr;
  const int64_t arows = ta ? K : M, acols = ta ? M : K, brows = tb ? N : K, bcols = tb ? K : N;
  if (!args.require(lda >= acols && ldb >= bcols && ldc >= N, "leading dimension too small")) return nullptr;
  auto extent = [](int64_t rows, int64_t cols, int64_t ld) -> int64_t { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; };
  const DType dt = A.dtype;
  args.check(A, dt, usz(extent(arows, acols, lda)), "A");
  args.check(B, dt, usz(extent(brows, bcols, ldb)), "B");
  args.check(bias, dt, usz(N), "bias");
  args.check(C, dt, usz(extent(M, N, ldc)), "C");
  dispatch(args, A, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->sgemm_bias(ta, tb, M, N, K, 1.0f, F32(A), lda, F32(B), ldb, 0.0f, F32(C), ldc, F32(bias));
    gemm_ref<T>(ta, tb, M, N, K, T(1), ptr<T>(A), lda, ptr<T>(B), ldb, T(0), ptr<T>(C), ldc);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) ptr<T>(C)[i * ldc + j] += ptr<T>(bias)[j];
  });
  return args.ok() ? undefined(env) : nullptr;
}

// gemmBf16(transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, batch, strideA, strideB,
// strideC, bias | null): mixed precision, C = alpha bf16(op(A)) bf16(op(B)) + beta C (+ bias),
// float32 arrays, B also as bf16 bits (Uint16Array: weights held in bf16); the reference
// kernels compute the same rounding naively.
napi_value GemmBf16(napi_env env, napi_callback_info info) {
  Args args(env, info, "gemmBf16");
  GemmCall g;
  const DType f32 = DType::F32;
  if (!read_gemm(args, g, &f32, true)) return nullptr;
  const bool b_bits = g.B.dtype == DType::U16;
  const bool has_bias = !args.is_null(17);
  Array bias = has_bias ? args.array(17) : Array{};
  if (has_bias && !args.check(bias, DType::F32, usz(g.N), "bias")) return nullptr;
  const float* bptr = has_bias ? F32(bias) : nullptr;
  const FastKernels* f = fast_for<float>();
  if (f && b_bits) {
    f->sgemm_bf16_bits(g.ta, g.tb, g.M, g.N, g.K, float(g.alpha), F32(g.A), g.lda, g.sA,
                       static_cast<const uint16_t*>(g.B.data), g.ldb, g.sB, float(g.beta), F32(g.C), g.ldc, g.sC, g.batch,
                       bptr);
  } else if (f) {
    f->sgemm_bf16(g.ta, g.tb, g.M, g.N, g.K, float(g.alpha), F32(g.A), g.lda, g.sA, F32(g.B), g.ldb, g.sB, float(g.beta),
                  F32(g.C), g.ldc, g.sC, g.batch, bptr);
  } else {
    for (int64_t e = 0; e < g.batch; ++e) {
      float* Ce = F32(g.C) + e * g.sC;
      // Bits expand to float32 exactly, so the rounding reference applies unchanged.
      std::vector<float> expanded;
      const float* Be = F32(g.B) + e * g.sB;
      if (b_bits) {
        const int64_t rows = g.tb ? g.N : g.K, cols = g.tb ? g.K : g.N;
        const uint16_t* bits = static_cast<const uint16_t*>(g.B.data) + e * g.sB;
        expanded.assign(usz(rows * g.ldb), 0.0f);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t c = 0; c < cols; ++c) {
            const uint32_t w = uint32_t(bits[r * g.ldb + c]) << 16;
            std::memcpy(&expanded[usz(r * g.ldb + c)], &w, sizeof(float));
          }
        Be = expanded.data();
      }
      gemm_bf16_ref(g.ta, g.tb, g.M, g.N, g.K, float(g.alpha), F32(g.A) + e * g.sA, g.lda, Be, g.ldb,
                    float(g.beta), Ce, g.ldc);
      if (bptr)
        for (int64_t i = 0; i < g.M; ++i)
          for (int64_t j = 0; j < g.N; ++j) Ce[i * g.ldc + j] += bptr[j];
    }
  }
  return undefined(env);
}

// bf16Path() -> "vdpbf16ps" | "emulated" | "reference": how gemmBf16 computes now.
napi_value Bf16Path(napi_env env, napi_callback_info) {
  const FastKernels* f = fast_for<float>();
  napi_value r;
  napi_create_string_utf8(env, f ? f->bf16_path() : "reference", NAPI_AUTO_LENGTH, &r);
  return r;
}

int64_t shape_total(const int32_t* shape, int ndim) {
  int64_t t = 1;
  for (int d = 0; d < ndim; ++d) t *= shape[d];
  return t;
}

// Largest offset reachable with these strides plus one.
int64_t strided_extent(const int32_t* shape, const int32_t* strides, int ndim) {
  int64_t e = 0;
  for (int d = 0; d < ndim; ++d) {
    if (shape[d] == 0) return 0;
    e += static_cast<int64_t>(strides[d]) * (shape[d] - 1);
  }
  return e + 1;
}

// binary(op, shape(Int32), a, stridesA(Int32), b, stridesB(Int32), out)
napi_value Binary(napi_env env, napi_callback_info info) {
  Args args(env, info, "binary");
  const int op = static_cast<int>(args.i64(0));
  Array shape = args.array(1), a = args.array(2), sa = args.array(3), b = args.array(4), sb = args.array(5),
        out = args.array(6);
  if (!args.ok()) return nullptr;
  const int nd = static_cast<int>(shape.length);
  if (!args.require(nd <= 16, "at most 16 dimensions")) return nullptr;
  args.check(shape, DType::I32, 0, "shape");
  args.check(sa, DType::I32, usz(nd), "stridesA");
  args.check(sb, DType::I32, usz(nd), "stridesB");
  if (!args.ok()) return nullptr;
  const int32_t* sh = ptr<int32_t>(shape);
  const int64_t total = shape_total(sh, nd);
  args.check(a, a.dtype, usz(strided_extent(sh, ptr<int32_t>(sa), nd)), "a");
  args.check(b, a.dtype, usz(strided_extent(sh, ptr<int32_t>(sb), nd)), "b");
  args.check(out, a.dtype, usz(total), "out");
  args.require(op >= 0 && op <= 3, "unknown binary op");
  dispatch(args, a, [&](auto tag) {
    using T = decltype(tag);
    if (total > 0) binary_broadcast<T>(op, nd, sh, ptr<T>(a), ptr<int32_t>(sa), ptr<T>(b), ptr<int32_t>(sb), ptr<T>(out));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// binaryRows(op, rows, cols, a, ars, acs, b, brs, bcs, out): see kernels/elementwise.h
napi_value BinaryRows(napi_env env, napi_callback_info info) {
  Args args(env, info, "binaryRows");
  const int op = static_cast<int>(args.i64(0));
  const int64_t rows = args.i64(1), cols = args.i64(2);
  Array a = args.array(3);
  const int64_t ars = args.i64(4), acs = args.i64(5);
  Array b = args.array(6);
  const int64_t brs = args.i64(7), bcs = args.i64(8);
  Array out = args.array(9);
  if (!args.require(op >= 0 && op <= 3 && rows >= 0 && cols >= 0 && (acs == 0 || acs == 1) && (bcs == 0 || bcs == 1) &&
                        ars >= 0 && brs >= 0,
                    "bad arguments"))
    return nullptr;
  auto extent = [&](int64_t rs, int64_t cs) -> size_t {
    return rows == 0 || cols == 0 ? 0 : usz((rows - 1) * rs + (cols - 1) * cs + 1);
  };
  args.check(a, a.dtype, extent(ars, acs), "a");
  args.check(b, a.dtype, extent(brs, bcs), "b");
  args.check(out, a.dtype, usz(rows * cols), "out");
  dispatch(args, a, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->binary_rows(op, rows, cols, F32(a), ars, acs, F32(b), brs, bcs, F32(out));
    binary_rows<T>(op, rows, cols, ptr<T>(a), ars, acs, ptr<T>(b), brs, bcs, ptr<T>(out));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// unary(op, n, x, y, param)
napi_value Unary(napi_env env, napi_callback_info info) {
  Args args(env, info, "unary");
  const int op = static_cast<int>(args.i64(0));
  const int64_t n = args.i64(1);
  Array x = args.array(2), y = args.array(3);
  const double p = args.f64(4);
  args.check(x, x.dtype, usz(n), "x");
  args.check(y, x.dtype, usz(n), "y");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>()) return f->unary(op, n, reinterpret_cast<const float*>(x.data), reinterpret_cast<float*>(y.data), float(p));
    unary<T>(op, n, ptr<T>(x), ptr<T>(y), T(p));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// activationBackward(op, n, x, gy, gx)
napi_value ActivationBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, "activationBackward");
  const int op = static_cast<int>(args.i64(0));
  const int64_t n = args.i64(1);
  Array x = args.array(2), gy = args.array(3), gx = args.array(4);
  args.check(x, x.dtype, usz(n), "x");
  args.check(gy, x.dtype, usz(n), "gy");
  args.check(gx, x.dtype, usz(n), "gx");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->activation_backward(op, n, reinterpret_cast<const float*>(x.data), reinterpret_cast<const float*>(gy.data), reinterpret_cast<float*>(gx.data));
    activation_backward<T>(op, n, ptr<T>(x), ptr<T>(gy), ptr<T>(gx));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// axpy(n, alpha, x, y): y += alpha x
napi_value Axpy(napi_env env, napi_callback_info info) {
  Args args(env, info, "axpy");
  const int64_t n = args.i64(0);
  const double alpha = args.f64(1);
  Array x = args.array(2), y = args.array(3);
  args.check(x, x.dtype, usz(n), "x");
  args.check(y, x.dtype, usz(n), "y");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>()) return f->axpy(n, float(alpha), reinterpret_cast<const float*>(x.data), reinterpret_cast<float*>(y.data));
    axpy<T>(n, T(alpha), ptr<T>(x), ptr<T>(y));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// sumAxis(outer, mid, inner, x, out)
napi_value SumAxis(napi_env env, napi_callback_info info) {
  Args args(env, info, "sumAxis");
  const int64_t o = args.i64(0), m = args.i64(1), i = args.i64(2);
  Array x = args.array(3), out = args.array(4);
  args.check(x, x.dtype, usz(o * m * i), "x");
  args.check(out, x.dtype, usz(o * i), "out");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    sum_axis<T>(o, m, i, ptr<T>(x), ptr<T>(out));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// maxAxis(outer, mid, inner, x, out, argmax Int32)
napi_value MaxAxis(napi_env env, napi_callback_info info) {
  Args args(env, info, "maxAxis");
  const int64_t o = args.i64(0), m = args.i64(1), i = args.i64(2);
  Array x = args.array(3), out = args.array(4), idx = args.array(5);
  args.require(m >= 1, "max over an empty axis");
  args.check(x, x.dtype, usz(o * m * i), "x");
  args.check(out, x.dtype, usz(o * i), "out");
  args.check(idx, DType::I32, usz(o * i), "argmax");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    max_axis<T>(o, m, i, ptr<T>(x), ptr<T>(out), ptr<int32_t>(idx));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// sumSquares(n, x) -> number
napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args args(env, info, "sumSquares");
  const int64_t n = args.i64(0);
  Array x = args.array(1);
  args.check(x, x.dtype, usz(n), "x");
  double r = 0;
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    r = sum_squares<T>(n, ptr<T>(x));
  });
  return args.ok() ? number(env, r) : nullptr;
}

// permute(shape Int32, perm Int32, x, out)
napi_value Permute(napi_env env, napi_callback_info info) {
  Args args(env, info, "permute");
  Array shape = args.array(0), perm = args.array(1), x = args.array(2), out = args.array(3);
  if (!args.ok()) return nullptr;
  const int nd = static_cast<int>(shape.length);
  args.require(nd <= 16 && perm.length == shape.length, "bad permutation");
  args.check(shape, DType::I32, 0, "shape");
  args.check(perm, DType::I32, usz(nd), "perm");
  if (!args.ok()) return nullptr;
  std::vector<bool> seen(static_cast<size_t>(nd), false);
  for (int d = 0; d < nd; ++d) {
    const int p = ptr<int32_t>(perm)[d];
    if (!args.require(p >= 0 && p < nd && !seen[p], "perm is not a permutation")) return nullptr;
    seen[p] = true;
  }
  const int64_t total = shape_total(ptr<int32_t>(shape), nd);
  args.check(x, x.dtype, usz(total), "x");
  args.check(out, x.dtype, usz(total), "out");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (total > 0) permute<T>(nd, ptr<int32_t>(shape), ptr<int32_t>(perm), ptr<T>(x), ptr<T>(out));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// narrow(outer, dim, inner, start, len, x, out) and narrowAdd(..., g, out)
napi_value NarrowImpl(napi_env env, napi_callback_info info, bool add) {
  Args args(env, info, add ? "narrowAdd" : "narrow");
  const int64_t o = args.i64(0), d = args.i64(1), i = args.i64(2), s = args.i64(3), l = args.i64(4);
  Array src = args.array(5), dst = args.array(6);
  args.require(s >= 0 && l >= 0 && s + l <= d, "slice out of range");
  const size_t big = usz(o * d * i), small = usz(o * l * i);
  args.check(src, src.dtype, add ? small : big, "source");
  args.check(dst, src.dtype, add ? big : small, "destination");
  dispatch(args, src, [&](auto tag) {
    using T = decltype(tag);
    if (add) narrow_add<T>(o, d, i, s, l, ptr<T>(src), ptr<T>(dst));
    else narrow<T>(o, d, i, s, l, ptr<T>(src), ptr<T>(dst));
  });
  return args.ok() ? undefined(env) : nullptr;
}
napi_value Narrow(napi_env env, napi_callback_info info) { return NarrowImpl(env, info, false); }
napi_value NarrowAdd(napi_env env, napi_callback_info info) { return NarrowImpl(env, info, true); }

bool ids_in_range(Args& args, const Array& ids, int64_t n, int64_t rows) {
  if (!args.check(ids, DType::I32, usz(n), "ids")) return false;
  const int32_t* p = ptr<int32_t>(ids);
  for (int64_t t = 0; t < n; ++t)
    if (p[t] < 0 || p[t] >= rows)
      return args.require(false, "token id " + std::to_string(p[t]) + " at position " + std::to_string(t) +
                                     " is outside the embedding table of " + std::to_string(rows) + " rows");
  return true;
}

// embeddingForward(n, rows, dim, ids, W, out)
napi_value EmbeddingForward(napi_env env, napi_callback_info info) {
  Args args(env, info, "embeddingForward");
  const int64_t n = args.i64(0), rows = args.i64(1), dim = args.i64(2);
  Array ids = args.array(3), W = args.array(4), out = args.array(5);
  ids_in_range(args, ids, n, rows);
  args.check(W, W.dtype, usz(rows * dim), "W");
  args.check(out, W.dtype, usz(n * dim), "out");
  dispatch(args, W, [&](auto tag) {
    using T = decltype(tag);
    embedding_forward<T>(n, dim, ptr<int32_t>(ids), ptr<T>(W), ptr<T>(out));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// embeddingBackward(n, rows, dim, ids, gy, gW)
napi_value EmbeddingBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, "embeddingBackward");
  const int64_t n = args.i64(0), rows = args.i64(1), dim = args.i64(2);
  Array ids = args.array(3), gy = args.array(4), gW = args.array(5);
  ids_in_range(args, ids, n, rows);
  args.check(gy, gy.dtype, usz(n * dim), "gy");
  args.check(gW, gy.dtype, usz(rows * dim), "gW");
  dispatch(args, gy, [&](auto tag) {
    using T = decltype(tag);
    embedding_backward<T>(n, dim, ptr<int32_t>(ids), ptr<T>(gy), ptr<T>(gW));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// layernormForward(N, C, x, w, b|null-length-0, eps, y, mean, rstd)
napi_value LayerNormForward(napi_env env, napi_callback_info info) {
  Args args(env, info, "layernormForward");
  const int64_t N = args.i64(0), C = args.i64(1);
  Array x = args.array(2), w = args.array(3), b = args.array(4);
  const double eps = args.f64(5);
  Array y = args.array(6), mean = args.array(7), rstd = args.array(8);
  const DType dt = x.dtype;
  args.check(x, dt, usz(N * C), "x");
  args.check(w, dt, usz(C), "weight");
  const bool has_b = b.length > 0;
  if (has_b) args.check(b, dt, usz(C), "bias");
  args.check(y, dt, usz(N * C), "y");
  args.check(mean, dt, usz(N), "mean");
  args.check(rstd, dt, usz(N), "rstd");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->layernorm_forward(N, C, F32(x), F32(w), has_b ? F32(b) : nullptr, float(eps), F32(y), F32(mean), F32(rstd));
    layernorm_forward<T>(N, C, ptr<T>(x), ptr<T>(w), has_b ? ptr<T>(b) : nullptr, T(eps), ptr<T>(y), ptr<T>(mean),
                         ptr<T>(rstd));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// layernormBackward(N, C, x, w, mean, rstd, gy, gx, gw|len0, gb|len0)
napi_value LayerNormBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, "layernormBackward");
  const int64_t N = args.i64(0), C = args.i64(1);
  Array x = args.array(2), w = args.array(3), mean = args.array(4), rstd = args.array(5), gy = args.array(6),
        gx = args.array(7), gw = args.array(8), gb = args.array(9);
  const DType dt = x.dtype;
  args.check(x, dt, usz(N * C), "x");
  args.check(w, dt, usz(C), "weight");
  args.check(mean, dt, usz(N), "mean");
  args.check(rstd, dt, usz(N), "rstd");
  args.check(gy, dt, usz(N * C), "gy");
  args.check(gx, dt, usz(N * C), "gx");
  const bool has_gw = gw.length > 0, has_gb = gb.length > 0;
  if (has_gw) args.check(gw, dt, usz(C), "gw");
  if (has_gb) args.check(gb, dt, usz(C), "gb");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->layernorm_backward(N, C, F32(x), F32(w), F32(mean), F32(rstd), F32(gy), F32(gx), has_gw ? F32(gw) : nullptr,
                                   has_gb ? F32(gb) : nullptr);
    layernorm_backward<T>(N, C, ptr<T>(x), ptr<T>(w), ptr<T>(mean), ptr<T>(rstd), ptr<T>(gy), ptr<T>(gx),
                          has_gw ? ptr<T>(gw) : nullptr, has_gb ? ptr<T>(gb) : nullptr);
  });
  return args.ok() ? undefined(env) : nullptr;
}

// rmsnormForward(N, C, x, w, eps, y, rstd)
napi_value RmsNormForward(napi_env env, napi_callback_info info) {
  Args args(env, info, "rmsnormForward");
  const int64_t N = args.i64(0), C = args.i64(1);
  Array x = args.array(2), w = args.array(3);
  const double eps = args.f64(4);
  Array y = args.array(5), rstd = args.array(6);
  const DType dt = x.dtype;
  args.check(x, dt, usz(N * C), "x");
  args.check(w, dt, usz(C), "weight");
  args.check(y, dt, usz(N * C), "y");
  args.check(rstd, dt, usz(N), "rstd");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>()) return f->rmsnorm_forward(N, C, F32(x), F32(w), float(eps), F32(y), F32(rstd));
    rmsnorm_forward<T>(N, C, ptr<T>(x), ptr<T>(w), T(eps), ptr<T>(y), ptr<T>(rstd));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// rmsnormBackward(N, C, x, w, rstd, gy, gx, gw|len0)
napi_value RmsNormBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, "rmsnormBackward");
  const int64_t N = args.i64(0), C = args.i64(1);
  Array x = args.array(2), w = args.array(3), rstd = args.array(4), gy = args.array(5), gx = args.array(6),
        gw = args.array(7);
  const DType dt = x.dtype;
  args.check(x, dt, usz(N * C), "x");
  args.check(w, dt, usz(C), "weight");
  args.check(rstd, dt, usz(N), "rstd");
  args.check(gy, dt, usz(N * C), "gy");
  args.check(gx, dt, usz(N * C), "gx");
  const bool has_gw = gw.length > 0;
  if (has_gw) args.check(gw, dt, usz(C), "gw");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->rmsnorm_backward(N, C, F32(x), F32(w), F32(rstd), F32(gy), F32(gx), has_gw ? F32(gw) : nullptr);
    rmsnorm_backward<T>(N, C, ptr<T>(x), ptr<T>(w), ptr<T>(rstd), ptr<T>(gy), ptr<T>(gx), has_gw ? ptr<T>(gw) : nullptr);
  });
  return args.ok() ? undefined(env) : nullptr;
}

bool attention_dims_ok(Args& args, int64_t B, int64_t Hq, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D) {
  return args.require(B >= 0 && Hq >= 1 && Hkv >= 1 && Hq % Hkv == 0 && Tq >= 0 && Tk >= Tq && D >= 1,
                      "bad attention dimensions (need Hq % Hkv == 0 and Tk >= Tq)");
}

// One strided operand: (array, offset, sb, sh, sr) at argument k..k+4, checked to stay
// inside its array for B x H x T rows of D elements.
struct Operand {
  Array arr;
  int64_t off, sb, sh, sr;
};

Operand operand(Args& args, size_t k, DType dt, int64_t B, int64_t H, int64_t T, int64_t D, const char* name) {
  Operand o{args.array(k), args.i64(k + 1), args.i64(k + 2), args.i64(k + 3), args.i64(k + 4)};
  if (!args.ok()) return o;
  if (!args.require(o.off >= 0 && o.sb >= 0 && o.sh >= 0 && o.sr >= D, std::string(name) + ": bad strides")) return o;
  const int64_t extent = (B == 0 || H == 0 || T == 0) ? 0 : o.off + (B - 1) * o.sb + (H - 1) * o.sh + (T - 1) * o.sr + D;
  args.check(o.arr, dt, usz(extent), name);
  return o;
}

template <typename T>
View<T> view(const Operand& o) {
  return View<T>{static_cast<T*>(o.arr.data) + o.off, o.sb, o.sh, o.sr};
}

template <typename T>
View<const T> cview(const Operand& o) {
  return View<const T>{static_cast<const T*>(o.arr.data) + o.off, o.sb, o.sh, o.sr};
}

// attentionForward(B, Hq, Hkv, Tq, Tk, D, scale, q..(5), k..(5), v..(5), out..(5), P | null, bf16)
// bf16 (0 or 1): the products with bf16 operands (float32 arrays only; float64 never rounds).
napi_value AttentionForward(napi_env env, napi_callback_info info) {
  Args args(env, info, "attentionForward");
  const int64_t B = args.i64(0), Hq = args.i64(1), Hkv = args.i64(2), Tq = args.i64(3), Tk = args.i64(4), D = args.i64(5);
  const double scale = args.f64(6);
  if (!attention_dims_ok(args, B, Hq, Hkv, Tq, Tk, D)) return nullptr;
  Array first = args.array(7);
  const DType dt = first.dtype;
  Operand q = operand(args, 7, dt, B, Hq, Tq, D, "q");
  Operand k = operand(args, 12, dt, B, Hkv, Tk, D, "k");
  Operand v = operand(args, 17, dt, B, Hkv, Tk, D, "v");
  Operand out = operand(args, 22, dt, B, Hq, Tq, D, "out");
  // P null: inference, the probabilities are not kept for a backward pass.
  const bool keep_p = !args.is_null(27);
  Array P{};
  if (keep_p) {
    P = args.array(27);
    args.check(P, dt, usz(B * Hq * Tq * Tk), "P");
  }
  const bool bf16 = args.i64(28) != 0 && dt == DType::F32;
  dispatch(args, first, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->attention_forward(B, Hq, Hkv, Tq, Tk, D, float(scale), cview<float>(q), cview<float>(k), cview<float>(v),
                                  view<float>(out), keep_p ? F32(P) : nullptr, bf16);
    attention_forward<T>(B, Hq, Hkv, Tq, Tk, D, T(scale), cview<T>(q), cview<T>(k), cview<T>(v), view<T>(out),
                         keep_p ? ptr<T>(P) : nullptr, bf16);
  });
  return args.ok() ? undefined(env) : nullptr;
}

// attentionBackward(B, Hq, Hkv, Tq, Tk, D, scale, q..(5), k..(5), v..(5), P, gout..(5), gq..(5), gk..(5), gv..(5), bf16)
napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, "attentionBackward");
  const int64_t B = args.i64(0), Hq = args.i64(1), Hkv = args.i64(2), Tq = args.i64(3), Tk = args.i64(4), D = args.i64(5);
  const double scale = args.f64(6);
  if (!attention_dims_ok(args, B, Hq, Hkv, Tq, Tk, D)) return nullptr;
  Array first = args.array(7);
  const DType dt = first.dtype;
  Operand q = operand(args, 7, dt, B, Hq, Tq, D, "q");
  Operand k = operand(args, 12, dt, B, Hkv, Tk, D, "k");
  Operand v = operand(args, 17, dt, B, Hkv, Tk, D, "v");
  Array P = args.array(22);
  args.check(P, dt, usz(B * Hq * Tq * Tk), "P");
  Operand go = operand(args, 23, dt, B, Hq, Tq, D, "gout");
  Operand gq = operand(args, 28, dt, B, Hq, Tq, D, "gq");
  Operand gk = operand(args, 33, dt, B, Hkv, Tk, D, "gk");
  Operand gv = operand(args, 38, dt, B, Hkv, Tk, D, "gv");
  const bool bf16 = args.i64(43) != 0 && dt == DType::F32;
  dispatch(args, first, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->attention_backward(B, Hq, Hkv, Tq, Tk, D, float(scale), cview<float>(q), cview<float>(k), cview<float>(v),
                                   F32(P), cview<float>(go), view<float>(gq), view<float>(gk), view<float>(gv), bf16);
    std::vector<T> ds(static_cast<size_t>(Tk));
    attention_backward<T>(B, Hq, Hkv, Tq, Tk, D, T(scale), cview<T>(q), cview<T>(k), cview<T>(v), ptr<T>(P), cview<T>(go),
                          view<T>(gq), view<T>(gk), view<T>(gv), ds.data(), bf16);
  });
  return args.ok() ? undefined(env) : nullptr;
}

// rope(BH, T, D, cos, sin, sign, x, y)
napi_value Rope(napi_env env, napi_callback_info info) {
  Args args(env, info, "rope");
  const int64_t BH = args.i64(0), Tn = args.i64(1), D = args.i64(2);
  Array c = args.array(3), s = args.array(4);
  const double sign = args.f64(5);
  Array x = args.array(6), y = args.array(7);
  args.require(D % 2 == 0, "rotary dimension must be even");
  const DType dt = x.dtype;
  args.check(c, dt, usz(Tn * D / 2), "cos");
  args.check(s, dt, usz(Tn * D / 2), "sin");
  args.check(x, dt, usz(BH * Tn * D), "x");
  args.check(y, dt, usz(BH * Tn * D), "y");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    rope<T>(BH, Tn, D, ptr<T>(c), ptr<T>(s), T(sign), ptr<T>(x), ptr<T>(y));
  });
  return args.ok() ? undefined(env) : nullptr;
}

bool targets_ok(Args& args, const Array& t, int64_t N, int64_t V) {
  if (!args.check(t, DType::I32, usz(N), "targets")) return false;
  const int32_t* p = ptr<int32_t>(t);
  for (int64_t n = 0; n < N; ++n)
    if (p[n] >= V)
      return args.require(false, "target " + std::to_string(p[n]) + " at row " + std::to_string(n) +
                                     " is outside the vocabulary of " + std::to_string(V));
  return true;
}

// crossEntropyForward(N, V, logits, targets, losses, lse)
napi_value CrossEntropyForward(napi_env env, napi_callback_info info) {
  Args args(env, info, "crossEntropyForward");
  const int64_t N = args.i64(0), V = args.i64(1);
  Array x = args.array(2), t = args.array(3), losses = args.array(4), lse = args.array(5);
  const DType dt = x.dtype;
  args.check(x, dt, usz(N * V), "logits");
  targets_ok(args, t, N, V);
  args.check(losses, dt, usz(N), "losses");
  args.check(lse, dt, usz(N), "lse");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->cross_entropy_forward(N, V, F32(x), ptr<int32_t>(t), F32(losses), F32(lse));
    cross_entropy_forward<T>(N, V, ptr<T>(x), ptr<int32_t>(t), ptr<T>(losses), ptr<T>(lse));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// crossEntropyBackward(N, V, logits, targets, lse, g, glogits)
napi_value CrossEntropyBackward(napi_env env, napi_callback_info info) {
  Args args(env, info, "crossEntropyBackward");
  const int64_t N = args.i64(0), V = args.i64(1);
  Array x = args.array(2), t = args.array(3), lse = args.array(4), g = args.array(5), gx = args.array(6);
  const DType dt = x.dtype;
  args.check(x, dt, usz(N * V), "logits");
  targets_ok(args, t, N, V);
  args.check(lse, dt, usz(N), "lse");
  args.check(g, dt, usz(N), "g");
  args.check(gx, dt, usz(N * V), "glogits");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->cross_entropy_backward(N, V, F32(x), ptr<int32_t>(t), F32(lse), F32(g), F32(gx));
    cross_entropy_backward<T>(N, V, ptr<T>(x), ptr<int32_t>(t), ptr<T>(lse), ptr<T>(g), ptr<T>(gx));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// logSoftmax(N, V, x, y)
napi_value LogSoftmax(napi_env env, napi_callback_info info) {
  Args args(env, info, "logSoftmax");
  const int64_t N = args.i64(0), V = args.i64(1);
  Array x = args.array(2), y = args.array(3);
  args.check(x, x.dtype, usz(N * V), "x");
  args.check(y, x.dtype, usz(N * V), "y");
  dispatch(args, x, [&](auto tag) {
    using T = decltype(tag);
    log_softmax<T>(N, V, ptr<T>(x), ptr<T>(y));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// adamwStep(n, p, g, m, v, decayFactor, b1, 1-b1, b2, 1-b2, stepSize, bc2Sqrt, eps)
napi_value AdamWStep(napi_env env, napi_callback_info info) {
  Args args(env, info, "adamwStep");
  const int64_t n = args.i64(0);
  Array p = args.array(1), g = args.array(2), m = args.array(3), v = args.array(4);
  const double decay = args.f64(5), b1 = args.f64(6), omb1 = args.f64(7), b2 = args.f64(8), omb2 = args.f64(9),
               step = args.f64(10), bc2s = args.f64(11), eps = args.f64(12);
  const DType dt = p.dtype;
  args.check(p, dt, usz(n), "param");
  args.check(g, dt, usz(n), "grad");
  args.check(m, dt, usz(n), "exp_avg");
  args.check(v, dt, usz(n), "exp_avg_sq");
  dispatch(args, p, [&](auto tag) {
    using T = decltype(tag);
    if (const FastKernels* f = fast_for<T>())
      return f->adamw_step(n, F32(p), F32(g), F32(m), F32(v), float(decay), float(b1), float(omb1), float(b2), float(omb2),
                           float(step), float(bc2s), float(eps));
    adamw_step<T>(n, ptr<T>(p), ptr<T>(g), ptr<T>(m), ptr<T>(v), T(decay), T(b1), T(omb1), T(b2), T(omb2), T(step),
                  T(bc2s), T(eps));
  });
  return args.ok() ? undefined(env) : nullptr;
}

// svd(m, n, A Float64, U Float64 (m*k), S Float64 (k), V Float64 (n*k)) -> sweeps (-1: no convergence)
napi_value Svd(napi_env env, napi_callback_info info) {
  Args args(env, info, "svd");
  const int64_t m = args.i64(0), n = args.i64(1);
  Array A = args.array(2), U = args.array(3), S = args.array(4), V = args.array(5);
  args.require(m >= 1 && n >= 1, "matrix must be non-empty");
  const int64_t k = m < n ? m : n;
  args.check(A, DType::F64, usz(m * n), "A");
  args.check(U, DType::F64, usz(m * k), "U");
  args.check(S, DType::F64, usz(k), "S");
  args.check(V, DType::F64, usz(n * k), "V");
  if (!args.ok()) return nullptr;
  const int sweeps = svd_jacobi(m, n, ptr<double>(A), ptr<double>(U), ptr<double>(S), ptr<double>(V));
  return number(env, sweeps);
}

// setKernels(mode: string) -> selected ISA name
napi_value SetKernels(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  char buf[64] = {0};
  size_t len = 0;
  if (argc < 1 || napi_get_value_string_utf8(env, argv[0], buf, sizeof(buf), &len) != napi_ok) {
    napi_throw_error(env, nullptr, "scaleot native setKernels: expected a string");
    return nullptr;
  }
  const std::string err = select_kernels(buf);
  if (!err.empty()) {
    napi_throw_error(env, nullptr, ("scaleot native setKernels: " + err).c_str());
    return nullptr;
  }
  napi_value r;
  napi_create_string_utf8(env, g_mode.c_str(), NAPI_AUTO_LENGTH, &r);
  return r;
}

napi_value GetKernels(napi_env env, napi_callback_info) {
  napi_value r;
  napi_create_string_utf8(env, g_mode.c_str(), NAPI_AUTO_LENGTH, &r);
  return r;
}

// setNumThreads(n) / getNumThreads()
napi_value SetNumThreads(napi_env env, napi_callback_info info) {
  Args args(env, info, "setNumThreads");
  const int64_t n = args.i64(0);
  if (!args.require(n >= 1 && n <= 64, "thread count must be in [1, 64]")) return nullptr;
  set_num_threads(static_cast<int>(n));
  return number(env, num_threads());
}

napi_value GetNumThreads(napi_env env, napi_callback_info) { return number(env, num_threads()); }

// cpuFeatures() -> "avx512 avx2" (what the CPU offers among the compiled kernel sets)
napi_value CpuFeatures(napi_env env, napi_callback_info) {
  std::string f;
  if (cpu_has("avx512") && fast_kernels_avx512()) f += "avx512 ";
  if (cpu_has("avx2") && fast_kernels_avx2()) f += "avx2 ";
  f += "portable";
  napi_value r;
  napi_create_string_utf8(env, f.c_str(), NAPI_AUTO_LENGTH, &r);
  return r;
}

// releaseFreeMemory(): hands memory that the C allocator holds but nothing uses back to the
// OS (glibc malloc_trim), so resident memory reflects live buffers (leak checks, long runs).
napi_value ReleaseFreeMemory(napi_env env, napi_callback_info) {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  return undefined(env);
}

struct Export {
  const char* name;
  napi_callback fn;
};

// Why the allocator is tuned at load: every op returns a fresh Float32Array, which V8
// takes from calloc. glibc serves arrays above its mmap threshold (128 KiB at first, then
// the size of the last freed mapping) with fresh mappings and trims the heap's free top
// back to the OS, so the same megabytes are unmapped and faulted in again on every step. On
// the 2-core development VM that made a base-24 training step (16 x 256 tokens, bf16)
// 1.94-2.07 s instead of 1.52-1.60 s, with one 4.5-5.7 s step after warm-up, at the same
// peak RSS (2,089 vs 2,093 MiB). Arrays up to 32 MiB (glibc's largest allowed threshold)
// now come from the heap, which gives memory back only when more than 1 GiB lies free at
// its top (releaseFreeMemory() still returns it all). SCALEOT_MALLOC=default keeps glibc's
// behaviour.
void tune_allocator() {
#if defined(__GLIBC__)
  const char* mode = std::getenv("SCALEOT_MALLOC");
  if (mode && std::strcmp(mode, "default") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

napi_value Init(napi_env env, napi_value exports) {
  tune_allocator();
  const Export table[] = {
      {"gemm", Gemm},
      {"gemmBias", GemmBias},
      {"gemmBf16", GemmBf16},
      {"bf16Path", Bf16Path},
      {"binary", Binary},
      {"binaryRows", BinaryRows},
      {"unary", Unary},
      {"activationBackward", ActivationBackward},
      {"axpy", Axpy},
      {"sumAxis", SumAxis},
      {"maxAxis", MaxAxis},
      {"sumSquares", SumSquares},
      {"permute", Permute},
      {"narrow", Narrow},
      {"narrowAdd", NarrowAdd},
      {"embeddingForward", EmbeddingForward},
      {"embeddingBackward", EmbeddingBackward},
      {"layernormForward", LayerNormForward},
      {"layernormBackward", LayerNormBackward},
      {"rmsnormForward", RmsNormForward},
      {"rmsnormBackward", RmsNormBackward},
      {"attentionForward", AttentionForward},
      {"attentionBackward", AttentionBackward},
      {"rope", Rope},
      {"crossEntropyForward", CrossEntropyForward},
      {"crossEntropyBackward", CrossEntropyBackward},
      {"logSoftmax", LogSoftmax},
      {"adamwStep", AdamWStep},
      {"svd", Svd},
      {"setKernels", SetKernels},
      {"getKernels", GetKernels},
      {"setNumThreads", SetNumThreads},
      {"getNumThreads", GetNumThreads},
      {"cpuFeatures", CpuFeatures},
      {"releaseFreeMemory", ReleaseFreeMemory},
  };
  for (const auto& e : table) {
    napi_value f;
    napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.fn, nullptr, &f);
    napi_set_named_property(env, exports, e.name, f);
  }
  // SCALEOT_KERNELS picks the kernel set at load; default: the best the CPU offers.
  const char* env_mode = std::getenv("SCALEOT_KERNELS");
  const std::string err = select_kernels(env_mode && env_mode[0] ? env_mode : "auto");
  if (!err.empty()) {
    napi_throw_error(env, nullptr, ("scaleot native: SCALEOT_KERNELS: " + err).c_str());
    return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
