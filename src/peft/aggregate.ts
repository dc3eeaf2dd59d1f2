// Weighted averaging of adapter tensors of one name and shape (FedAvg's parameter mean),
// shared by the tuners whose parameters can be averaged directly.
import type { AggregationMember } from './tuner.js';

/**
 * Σ_k w_k θ_k per tensor, in float64, for members that hold the same names and shapes. For
 * full tuning this is exactly the average of the deltas (the members share the base block:
 * A + Σ w_k (A'_k − A) = Σ w_k A'_k, as Σ w_k = 1).
 */
export function weightedMean(members: AggregationMember[]): { tensors: Map<string, Float32Array>; shapes: Map<string, readonly number[]> } {
  const [first] = members;
  const tensors = new Map<string, Float32Array>();
  for (const [name, t0] of first.tensors) {
    const acc = new Float64Array(t0.length);
    for (const m of members) {
      const t = m.tensors.get(name);
      if (!t || t.length !== t0.length) throw new Error(`aggregate: an adapter lacks tensor "${name}" or holds it in another shape`);
      for (let k = 0; k < t.length; k++) acc[k] += m.weight * t[k];
    }
    tensors.set(name, Float32Array.from(acc));
  }
  for (const m of members) if (m.tensors.size !== first.tensors.size) throw new Error('aggregate: the adapters hold different tensors');
  return { tensors, shapes: new Map(first.shapes) };
}
