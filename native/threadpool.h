// A small pool of our own threads for the kernels. Work is split statically by thread id,
// never by who finishes first, so results depend only on the thread count. Workers spin
// briefly for the next job and then sleep, so an idle pool costs no CPU (a benchmark of
// another process on the same cores is not disturbed). Workers are pinned to distinct
// CPUs of the process's affinity mask unless SCALEOT_PIN=0.
#pragma once
#include <cstdint>
#include <functional>

namespace scaleot {

/** Number of threads kernels may use (>= 1). */
int num_threads();
/** Sets the thread count (clamped to [1, 64]); restarts the pool. */
void set_num_threads(int n);

/**
 * Runs fn(tid, nthreads) for tid = 0..nthreads-1 concurrently, the caller running tid 0,
 * and returns when all are done. nthreads = min(requested, num_threads()).
 */
void parallel_run(int requested, const std::function<void(int, int)>& fn);

/** Splits [0, n) into `parts` contiguous ranges aligned to `align`; range of part `p`. */
inline void split_range(int64_t n, int parts, int p, int64_t align, int64_t* begin, int64_t* end) {
  const int64_t units = (n + align - 1) / align;
  const int64_t lo = units * p / parts, hi = units * (p + 1) / parts;
  *begin = lo * align < n ? lo * align : n;
  *end = hi * align < n ? hi * align : n;
}

}  // namespace scaleot
