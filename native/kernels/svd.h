// Thin SVD in double precision by one-sided Jacobi (Hestenes) rotations.
// A (m, n) row-major = U (m, k) diag(S) (k) V^T, k = min(m, n), S descending.
// One-sided Jacobi orthogonalises the columns of A directly, so it is accurate to a few
// ulps relative to ||A|| and handles rank deficiency: columns whose norm falls below
// tol * s_max get U columns completed to an orthonormal set by Gram-Schmidt on unit vectors.
#pragma once
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

namespace scaleot {

namespace detail {

// Works on a tall problem (rows >= cols) given column-major columns of length `rows`.
// cols_data: cols x rows (column j at cols_data[j*rows]). Outputs Uc (cols x rows, column
// major), S (cols), Vc (cols x cols, column major). Returns the number of sweeps.
inline int jacobi_tall(int64_t rows, int64_t cols, std::vector<double>& a, std::vector<double>& vmat, int max_sweeps) {
  vmat.assign(static_cast<size_t>(cols * cols), 0.0);
  for (int64_t j = 0; j < cols; ++j) vmat[j * cols + j] = 1.0;
  // A pair counts as orthogonal once |a_p . a_q| <= sqrt(rows) eps |a_p| |a_q| (LAPACK's dgesvj
  // uses the same sqrt(M) eps). The dot product of two columns of length `rows` carries a
  // rounding error of that order, so a threshold of eps alone can sit below the noise: block
  // 12's c_attn of scaleot-base-24m (192 x 576) never met it within 80 sweeps.
  const double orth_tol = std::sqrt(static_cast<double>(rows)) * DBL_EPSILON;
  int sweep = 0;
  for (; sweep < max_sweeps; ++sweep) {
    bool rotated = false;
    for (int64_t p = 0; p < cols - 1; ++p) {
      for (int64_t q = p + 1; q < cols; ++q) {
        double* ap = &a[p * rows];
        double* aq = &a[q * rows];
        double alpha = 0, beta = 0, gamma = 0;
        for (int64_t i = 0; i < rows; ++i) {
          alpha += ap[i] * ap[i];
          beta += aq[i] * aq[i];
          gamma += ap[i] * aq[i];
        }
        if (gamma == 0.0 || std::fabs(gamma) <= orth_tol * std::sqrt(alpha * beta)) continue;
        rotated = true;
        const double zeta = (beta - alpha) / (2.0 * gamma);
        const double t = (zeta >= 0 ? 1.0 : -1.0) / (std::fabs(zeta) + std::sqrt(1.0 + zeta * zeta));
        const double c = 1.0 / std::sqrt(1.0 + t * t);
        const double s = c * t;
        for (int64_t i = 0; i < rows; ++i) {
          const double x = ap[i], y = aq[i];
          ap[i] = c * x - s * y;
          aq[i] = s * x + c * y;
        }
        double* vp = &vmat[p * cols];
        double* vq = &vmat[q * cols];
        for (int64_t i = 0; i < cols; ++i) {
          const double x = vp[i], y = vq[i];
          vp[i] = c * x - s * y;
          vq[i] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  return sweep;
}

}  // namespace detail

// U: (m, k), S: (k), V: (n, k), all row-major. Returns sweeps used (or -1 if not converged).
inline int svd_jacobi(int64_t m, int64_t n, const double* A, double* U, double* S, double* V) {
  const bool wide = n > m;
  const int64_t rows = wide ? n : m;  // the tall problem works on A or A^T
  const int64_t cols = wide ? m : n;
  // Column-major copy of the tall matrix: column j of (A or A^T).
  std::vector<double> a(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      if (!wide) a[j * rows + i] = A[i * n + j];
      else a[i * rows + j] = A[i * n + j];  // A^T has column i = row i of A
    }
  std::vector<double> vmat;
  const int max_sweeps = 80;
  const int sweeps = detail::jacobi_tall(rows, cols, a, vmat, max_sweeps);

  std::vector<double> sig(static_cast<size_t>(cols));
  for (int64_t j = 0; j < cols; ++j) {
    double s = 0;
    for (int64_t i = 0; i < rows; ++i) s += a[j * rows + i] * a[j * rows + i];
    sig[j] = std::sqrt(s);
  }
  std::vector<int64_t> order(static_cast<size_t>(cols));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return sig[x] > sig[y]; });
  const double smax = cols > 0 ? sig[order[0]] : 0.0;
  const double tol = smax * DBL_EPSILON * static_cast<double>(rows);

  // Left vectors of the tall problem (rows x cols, column-major after sorting).
  std::vector<double> ul(static_cast<size_t>(rows * cols), 0.0);
  std::vector<double> vr(static_cast<size_t>(cols * cols));
  std::vector<bool> filled(static_cast<size_t>(cols), false);
  for (int64_t r = 0; r < cols; ++r) {
    const int64_t j = order[r];
    S[r] = sig[j];
    for (int64_t i = 0; i < cols; ++i) vr[r * cols + i] = vmat[j * cols + i];
    if (sig[j] > tol && sig[j] > 0) {
      for (int64_t i = 0; i < rows; ++i) ul[r * rows + i] = a[j * rows + i] / sig[j];
      filled[r] = true;
    }
  }
  // Complete the left vectors of (numerically) zero singular values.
  int64_t next_unit = 0;
  for (int64_t r = 0; r < cols; ++r) {
    if (filled[r]) continue;
    for (; next_unit < rows; ++next_unit) {
      std::vector<double> e(static_cast<size_t>(rows), 0.0);
      e[next_unit] = 1.0;
      for (int pass = 0; pass < 2; ++pass)
        for (int64_t c = 0; c < cols; ++c) {
          if (!filled[c]) continue;
          double d = 0;
          for (int64_t i = 0; i < rows; ++i) d += ul[c * rows + i] * e[i];
          for (int64_t i = 0; i < rows; ++i) e[i] -= d * ul[c * rows + i];
        }
      double nrm = 0;
      for (int64_t i = 0; i < rows; ++i) nrm += e[i] * e[i];
      nrm = std::sqrt(nrm);
      if (nrm > 0.5) {
        for (int64_t i = 0; i < rows; ++i) ul[r * rows + i] = e[i] / nrm;
        filled[r] = true;
        ++next_unit;
        break;
      }
    }
  }
  // Write out: for a tall A, U = ul, V = vr; for a wide A (we factored A^T = ul S vr^T),
  // A = vr S ul^T, so U = vr and V = ul.
  const int64_t k = cols;
  for (int64_t r = 0; r < k; ++r) {
    for (int64_t i = 0; i < rows; ++i) (wide ? V[i * k + r] : U[i * k + r]) = ul[r * rows + i];
    for (int64_t i = 0; i < cols; ++i) (wide ? U[i * k + r] : V[i * k + r]) = vr[r * cols + i];
  }
  return sweeps >= max_sweeps ? -1 : sweeps;
}

}  // namespace scaleot
