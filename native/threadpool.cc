#include "threadpool.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace scaleot {
namespace {

std::vector<int> allowed_cpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int c = 0; c < CPU_SETSIZE; ++c)
      if (CPU_ISSET(c, &set)) cpus.push_back(c);
  }
  return cpus;
}

void pin_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

class Pool {
 public:
  explicit Pool(int n) : n_(n) {
    const char* pin_env = std::getenv("SCALEOT_PIN");
    pin_ = !(pin_env && pin_env[0] == '0');
    cpus_ = allowed_cpus();
    for (int t = 1; t < n_; ++t) workers_.emplace_back([this, t] { loop(t); });
  }

  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
  }

  int size() const { return n_; }

  void run(int nt, const std::function<void(int, int)>& fn) {
    if (nt <= 1) {
      fn(0, 1);
      return;
    }
    job_ = &fn;
    job_threads_ = nt;
    pending_.store(nt - 1);
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    fn(0, nt);
    // Wait for the workers; they finish at about the same time as we do.
    while (pending_.load(std::memory_order_acquire) != 0) {
#if defined(__x86_64__)
      __builtin_ia32_pause();
#endif
    }
  }

 private:
  void loop(int tid) {
    if (pin_ && !cpus_.empty()) pin_to(cpus_[tid % cpus_.size()]);
    // Generation 0 is "no job yet". Reading the counter here instead would miss a job
    // posted before this thread got scheduled.
    uint64_t seen = 0;
    for (;;) {
      // Spin for the next job (kernel calls come in quick succession), then sleep.
      const auto spin_until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      uint64_t g;
      while ((g = generation_.load(std::memory_order_acquire)) == seen) {
        if (std::chrono::steady_clock::now() > spin_until) {
          std::unique_lock<std::mutex> lock(mu_);
          cv_.wait(lock, [&] { return generation_.load() != seen; });
        }
#if defined(__x86_64__)
        __builtin_ia32_pause();
#endif
      }
      seen = g;
      if (stop_) return;
      if (tid < job_threads_) {
        (*job_)(tid, job_threads_);
        pending_.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  int n_;
  bool pin_ = true;
  std::vector<int> cpus_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  const std::function<void(int, int)>* job_ = nullptr;
  int job_threads_ = 0;
  bool stop_ = false;
};

int default_threads() {
  if (const char* e = std::getenv("SCALEOT_NUM_THREADS")) {
    const int n = std::atoi(e);
    if (n >= 1) return n > 64 ? 64 : n;
  }
  const int n = static_cast<int>(allowed_cpus().size());
  return n >= 1 ? (n > 64 ? 64 : n) : 1;
}

Pool* g_pool = nullptr;

Pool& pool() {
  if (!g_pool) g_pool = new Pool(default_threads());
  return *g_pool;
}

}  // namespace

int num_threads() { return pool().size(); }

void set_num_threads(int n) {
  n = n < 1 ? 1 : (n > 64 ? 64 : n);
  if (g_pool && g_pool->size() == n) return;
  delete g_pool;
  g_pool = new Pool(n);
}

void parallel_run(int requested, const std::function<void(int, int)>& fn) {
  Pool& p = pool();
  int nt = requested < p.size() ? requested : p.size();
  if (nt < 1) nt = 1;
  p.run(nt, fn);
}

}  // namespace scaleot
