// Argument unpacking for the N-API bindings.
//
// Every binding receives typed arrays that JavaScript owns and plain numbers. Native code
// never keeps a pointer past the call and never allocates memory that outlives it, so the
// ownership rule is simple: JS owns every buffer; C++ borrows it for one call.
// Lengths are checked here before any kernel runs, so a wrong shape from TypeScript raises
// a JS exception instead of reading or writing out of bounds.
#pragma once

#include <node_api.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace scaleot {

// U16: bfloat16 bit patterns (a Uint16Array), the storage of weights held in bf16.
enum class DType { F32, F64, I32, U16, Other };

struct Array {
  void* data = nullptr;
  size_t length = 0;  // elements
  DType dtype = DType::Other;
};

class Args {
 public:
  Args(napi_env env, napi_callback_info info, const char* fn) : env_(env), fn_(fn) {
    argc_ = kMax;
    if (napi_get_cb_info(env, info, &argc_, argv_, nullptr, nullptr) != napi_ok) fail("cannot read arguments");
  }

  bool ok() const { return ok_; }
  napi_env env() const { return env_; }

  int64_t i64(size_t k) {
    if (!has(k)) return 0;
    int64_t v = 0;
    if (napi_get_value_int64(env_, argv_[k], &v) != napi_ok) fail("argument " + std::to_string(k) + " must be an integer");
    return v;
  }

  double f64(size_t k) {
    if (!has(k)) return 0;
    double v = 0;
    if (napi_get_value_double(env_, argv_[k], &v) != napi_ok) fail("argument " + std::to_string(k) + " must be a number");
    return v;
  }

  Array array(size_t k) {
    Array a;
    if (!has(k)) return a;
    bool is_ta = false;
    napi_is_typedarray(env_, argv_[k], &is_ta);
    if (!is_ta) {
      fail("argument " + std::to_string(k) + " must be a typed array");
      return a;
    }
    napi_typedarray_type type;
    napi_value buffer;
    size_t offset;
    napi_get_typedarray_info(env_, argv_[k], &type, &a.length, &a.data, &buffer, &offset);
    switch (type) {
      case napi_float32_array: a.dtype = DType::F32; break;
      case napi_float64_array: a.dtype = DType::F64; break;
      case napi_int32_array: a.dtype = DType::I32; break;
      case napi_uint16_array: a.dtype = DType::U16; break;
      default: a.dtype = DType::Other;
    }
    return a;
  }

  // True when argument k is null or undefined (an optional array left out).
  bool is_null(size_t k) {
    if (!has(k)) return false;
    napi_valuetype t;
    napi_typeof(env_, argv_[k], &t);
    return t == napi_null || t == napi_undefined;
  }

  // Checks that `a` has at least `need` elements of the given dtype.
  bool check(const Array& a, DType want, size_t need, const char* name) {
    if (!ok_) return false;
    if (a.dtype != want) return fail(std::string(name) + ": wrong element type"), false;
    if (a.length < need)
      return fail(std::string(name) + ": needs " + std::to_string(need) + " elements, has " + std::to_string(a.length)), false;
    return true;
  }

  bool require(bool cond, const std::string& what) {
    if (!cond && ok_) fail(what);
    return cond && ok_;
  }

  void fail(const std::string& msg) {
    if (!ok_) return;
    ok_ = false;
    std::string full = std::string("scaleot native ") + fn_ + ": " + msg;
    napi_throw_error(env_, nullptr, full.c_str());
  }

 private:
  bool has(size_t k) {
    if (k >= argc_) {
      fail("missing argument " + std::to_string(k));
      return false;
    }
    return ok_;
  }

  static constexpr size_t kMax = 48;
  napi_env env_;
  const char* fn_;
  size_t argc_;
  napi_value argv_[kMax];
  bool ok_ = true;
};

inline napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

inline napi_value number(napi_env env, double v) {
  napi_value r;
  napi_create_double(env, v, &r);
  return r;
}

}  // namespace scaleot
