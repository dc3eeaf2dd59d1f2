// Elementwise kernels: broadcast binary arithmetic, unary maps, activations and their
// derivatives, in-place accumulation and reductions along one axis.
#pragma once
#include <cmath>
#include <cstdint>

namespace scaleot {

enum BinaryOp : int { kAdd = 0, kSub = 1, kMul = 2, kDiv = 3 };

// out[idx] = a[idx . sa] op b[idx . sb] over an N-d index; strides are 0 on broadcast axes.
template <typename T>
void binary_broadcast(int op, int ndim, const int32_t* shape, const T* a, const int32_t* sa, const T* b,
                      const int32_t* sb, T* out) {
  int64_t total = 1;
  for (int d = 0; d < ndim; ++d) total *= shape[d];
  int64_t idx[16] = {0};
  int64_t oa = 0, ob = 0;
  for (int64_t n = 0; n < total; ++n) {
    const T x = a[oa], y = b[ob];
    T r;
    switch (op) {
      case kAdd: r = x + y; break;
      case kSub: r = x - y; break;
      case kMul: r = x * y; break;
      default: r = x / y; break;
    }
    out[n] = r;
    // Odometer increment of the N-d index, updating both input offsets.
    for (int d = ndim - 1; d >= 0; --d) {
      if (++idx[d] < shape[d]) {
        oa += sa[d];
        ob += sb[d];
        break;
      }
      oa -= sa[d] * (shape[d] - 1);
      ob -= sb[d] * (shape[d] - 1);
      idx[d] = 0;
    }
  }
}

// The common broadcasts as a 2-D problem: out[r, c] = a[r*ars + c*acs] op b[r*brs + c*bcs]
// with acs, bcs in {0, 1} (same shape, a row vector such as a bias, a column vector, a scalar).
template <typename T>
void binary_rows(int op, int64_t rows, int64_t cols, const T* a, int64_t ars, int64_t acs, const T* b, int64_t brs,
                 int64_t bcs, T* out) {
  for (int64_t r = 0; r < rows; ++r) {
    const T* ar = a + r * ars;
    const T* br = b + r * brs;
    T* o = out + r * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const T x = ar[c * acs], y = br[c * bcs];
      o[c] = op == kAdd ? x + y : op == kSub ? x - y : op == kMul ? x * y : x / y;
    }
  }
}

enum UnaryOp : int {
  kNeg = 0, kExp = 1, kLog = 2, kSqrt = 3, kScale = 4, kAddScalar = 5, kRelu = 6, kGelu = 7, kSilu = 8,
  kTanh = 9, kSigmoid = 10, kSquare = 11, kPowScalar = 12
};

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

// GPT-2's "gelu_new": 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), evaluated as
// the identical x * sigmoid(2u), which keeps relative accuracy in the x << 0 tail where
// 1 + tanh(u) cancels.
template <typename T>
inline T gelu_tanh(T x) {
  const T u2 = T(2) * T(0.7978845608028654) * (x + T(0.044715) * x * x * x);
  return x * sigmoid(u2);
}

template <typename T>
inline T gelu_tanh_grad(T x) {
  const T u2 = T(2) * T(0.7978845608028654) * (x + T(0.044715) * x * x * x);
  const T du = T(0.7978845608028654) * (T(1) + T(3) * T(0.044715) * x * x);
  return sigmoid(u2) + T(2) * x * sigmoid(u2) * sigmoid(-u2) * du;
}

template <typename T>
void unary(int op, int64_t n, const T* x, T* y, T p) {
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    T r;
    switch (op) {
      case kNeg: r = -v; break;
      case kExp: r = std::exp(v); break;
      case kLog: r = std::log(v); break;
      case kSqrt: r = std::sqrt(v); break;
      case kScale: r = v * p; break;
      case kAddScalar: r = v + p; break;
      case kRelu: r = v > T(0) ? v : T(0); break;
      case kGelu: r = gelu_tanh(v); break;
      case kSilu: r = v * sigmoid(v); break;
      case kTanh: r = std::tanh(v); break;
      case kSigmoid: r = sigmoid(v); break;
      case kSquare: r = v * v; break;
      default: r = std::pow(v, p); break;
    }
    y[i] = r;
  }
}

// gx = gy * f'(x) for the activations.
template <typename T>
void activation_backward(int op, int64_t n, const T* x, const T* gy, T* gx) {
  for (int64_t i = 0; i < n; ++i) {
    const T v = x[i];
    T d;
    switch (op) {
      case kRelu: d = v > T(0) ? T(1) : T(0); break;
      case kGelu: d = gelu_tanh_grad(v); break;
      case kSilu: {
        const T s = sigmoid(v);
        d = s * (T(1) + v * (T(1) - s));
        break;
      }
      case kTanh: {
        const T t = std::tanh(v);
        d = T(1) - t * t;
        break;
      }
      default: {  // sigmoid
        const T s = sigmoid(v);
        d = s * (T(1) - s);
      }
    }
    gx[i] = gy[i] * d;
  }
}

// y += alpha * x
template <typename T>
void axpy(int64_t n, T alpha, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] += alpha * x[i];
}

// out[o, i] = sum_m x[o, m, i] for a tensor viewed as (outer, mid, inner); m ascending.
template <typename T>
void sum_axis(int64_t outer, int64_t mid, int64_t inner, const T* x, T* out) {
  for (int64_t o = 0; o < outer; ++o) {
    T* dst = out + o * inner;
    for (int64_t i = 0; i < inner; ++i) dst[i] = T(0);
    for (int64_t m = 0; m < mid; ++m) {
      const T* src = x + (o * mid + m) * inner;
      for (int64_t i = 0; i < inner; ++i) dst[i] += src[i];
    }
  }
}

// out[o, i] = max_m x[o, m, i], argmax in idx (first maximum wins).
template <typename T>
void max_axis(int64_t outer, int64_t mid, int64_t inner, const T* x, T* out, int32_t* idx) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      T best = x[o * mid * inner + i];
      int32_t arg = 0;
      for (int64_t m = 1; m < mid; ++m) {
        const T v = x[(o * mid + m) * inner + i];
        if (v > best) best = v, arg = static_cast<int32_t>(m);
      }
      out[o * inner + i] = best;
      idx[o * inner + i] = arg;
    }
  }
}

// Sum of squares accumulated in double (gradient clipping's global norm).
template <typename T>
double sum_squares(int64_t n, const T* x) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(x[i]);
  return s;
}

}  // namespace scaleot
