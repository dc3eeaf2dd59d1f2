// The harmonizer that stands in for a replaced block (ScaleOT, Sec. 3.2; METHOD.md Stage 1):
// a residual low-rank ReLU FFN  h(x) = x + W_up ReLU(W_down x + b_down) + b_up  of rank r.
// W_up starts at zero, so a fresh harmonizer is the identity: replacing a block with it
// is plain LayerDrop until the harmonizer has been trained.
import type { Tensor } from '../../tensor/tensor.js';
import { add } from '../../tensor/ops/arithmetic.js';
import { relu } from '../../tensor/ops/activation.js';
import { Module } from '../../nn/module.js';
import { Linear } from '../../nn/layers.js';
import { Rng } from '../../util/rng.js';

export class Harmonizer extends Module {
  readonly down: Linear; // (r, C), bias (r)
  readonly up: Linear; // (C, r), bias (C); zero at init

  constructor(readonly dim: number, readonly rank: number, rng: Rng = new Rng(0)) {
    super();
    this.down = new Linear(dim, rank, { rng });
    this.up = new Linear(rank, dim, { init: false }); // weight and bias zero: identity map
  }

  /** A harmonizer sees no positions and keeps no cache: the block context is not needed. */
  forward(x: Tensor): Tensor {
    return add(x, this.up.forward(relu(this.down.forward(x)))); // (B, T, C)
  }
}

/** The paper's harmonizer rank is 64 for ~1B models and 256 for ~7B; for small models we
 * use r = max(4, round(d / 16)) (METHOD.md allows choosing r ~ d/16 and saying so). */
export function defaultHarmonizerRank(dim: number): number {
  return Math.max(4, Math.round(dim / 16));
}
