// Offsite-Tuning's uniform LayerDrop (Xiao et al. 2023; METHOD.md "Baselines"): the first
// and last N_a/2 blocks are the adapters (two and two at the default N_a = 4, as in OT; an odd
// N_a puts the extra one at the bottom); of the M middle blocks K are kept at uniformly
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

/**
 * The OT adapter placement for N_a adapters: the first ceil(N_a/2) and the last floor(N_a/2)
 * blocks (N_a = 4: blocks 0, 1, n-2, n-1), so that baselines and ScaleOT tune as many blocks.
 */
export function otAdapters(n: number, numAdapters = 4): number[] {
  if (!(Number.isInteger(numAdapters) && numAdapters >= 1)) throw new RangeError(`N_a = ${numAdapters} must be a positive integer`);
  if (n < numAdapters + 1) throw new RangeError(`OT's placement of ${numAdapters} adapters needs at least ${numAdapters + 1} blocks, got ${n}`);
  const bottom = Math.ceil(numAdapters / 2), top = numAdapters - bottom;
  return [...Array.from({ length: bottom }, (_, i) => i), ...Array.from({ length: top }, (_, i) => n - top + i)];
}

/** The middle blocks between OT's bottom and top adapters. */
export function otMiddle(n: number, numAdapters = 4): number[] {
  const adapters = new Set(otAdapters(n, numAdapters));
  return Array.from({ length: n }, (_, i) => i).filter((i) => !adapters.has(i));
}

export function uniformDropPlan(n: number, numRemoved: number, numAdapters = 4): BaselinePlan {
  const adapters = otAdapters(n, numAdapters);
  const middle = otMiddle(n, numAdapters);
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
    return buildBaselineEmulator(model, 'uniform-drop', uniformDropPlan(model.blocks.length, ctx.numRemoved, ctx.settings.numAdapters));
  },
};
