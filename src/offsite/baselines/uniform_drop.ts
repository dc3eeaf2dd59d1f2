// Offsite-Tuning's uniform LayerDrop (Xiao et al. 2023; METHOD.md "Baselines"): the first
// two and last two blocks are the adapters; of the M middle blocks K are kept at uniformly
// spaced positions, kept index = round(i (M - 1) / (K - 1)) for i < K (Python's round),
// the others are dropped. Sized like ScaleOT: round(α n) blocks removed.
import { roundHalfEven } from '../../util/round.js';
import { buildBaselineEmulator } from '../emulator.js';
import type { OffsiteMethod } from '../methods.js';

export interface BaselinePlan {
  adapters: number[];
  /** Blocks shipped as they are (no SRC). */
  kept: number[];
  /** Blocks removed: the emulator skips them (identity). */
  dropped: number[];
  /** Removed blocks whose slot reuses a kept block's weights (CRaSh): slot -> kept index. */
  shared: Record<number, number>;
}

/** The OT adapter placement: the first two and the last two blocks. */
export function otAdapters(n: number): number[] {
  if (n < 5) throw new RangeError(`uniform LayerDrop needs at least 5 blocks, got ${n}`);
  return [0, 1, n - 2, n - 1];
}

export function uniformDropPlan(n: number, numRemoved: number): BaselinePlan {
  const adapters = otAdapters(n);
  const middle = Array.from({ length: n - 4 }, (_, i) => i + 2);
  const M = middle.length;
  const K = M - numRemoved;
  if (K < 1) throw new RangeError(`uniform LayerDrop: removing ${numRemoved} of ${M} middle blocks leaves none`);
  const keptPos = K === 1 ? [0] : Array.from({ length: K }, (_, i) => roundHalfEven((i * (M - 1)) / (K - 1)));
  const kept = [...new Set(keptPos)].map((p) => middle[p]);
  const dropped = middle.filter((b) => !kept.includes(b));
  return { adapters, kept, dropped, shared: {} };
}

/** OT in the method registry: uniform LayerDrop of round(α·n) middle blocks. */
export const otMethod: OffsiteMethod = {
  name: 'ot',
  label: 'OT (uniform LayerDrop)',
  needs: {},
  settings: (base) => ({ ...base, noSrc: false }),
  build: (ctx) => {
    const model = ctx.loadModel();
    return buildBaselineEmulator(model, 'uniform-drop', uniformDropPlan(model.blocks.length, ctx.numRemoved));
  },
};
