// Gradient clipping by global L2 norm, as torch.nn.utils.clip_grad_norm_ (coefficient
// max_norm / (norm + 1e-6), applied only when below 1).
import { native, UnaryOp } from '../tensor/native.js';
import type { Parameter } from '../nn/module.js';

/** Returns the total norm before clipping. A non-finite norm is an error, not a silent NaN. */
export function clipGradNorm(params: Parameter[], maxNorm: number): number {
  let sq = 0;
  for (const p of params) if (p.grad) sq += native.sumSquares(p.size, p.grad.data);
  const norm = Math.sqrt(sq);
  if (!Number.isFinite(norm)) throw new Error(`clipGradNorm: gradient norm is ${norm} (non-finite gradients)`);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const p of params) if (p.grad) native.unary(UnaryOp.scale, p.size, p.grad.data, p.grad.data, coef);
  }
  return norm;
}
