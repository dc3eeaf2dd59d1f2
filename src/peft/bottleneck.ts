// Bottleneck adapters (Houlsby et al.): a(h) = h + W_up act(W_down h + b_down) + b_up of
// width 64, one after the attention output projection and one after the FFN output, per
// adapted block. W_up starts at zero (identity), as peft-style adapters do.
import type { Tensor } from '../tensor/tensor.js';
import { add } from '../tensor/ops/arithmetic.js';
import { gelu } from '../tensor/ops/activation.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { Rng } from '../util/rng.js';

export class BottleneckAdapter extends Module {
  readonly down: Linear; // (width, C)
  readonly up: Linear; // (C, width), zero at init

  constructor(dim: number, width = 64, rng: Rng = new Rng(0)) {
    super();
    this.down = new Linear(dim, width, { rng });
    this.up = new Linear(width, dim, { init: false });
  }

  forward(h: Tensor): Tensor {
    return add(h, this.up.forward(gelu(this.down.forward(h))));
  }
}

/** A layer followed by an adapter on its output (how adapters are spliced into a block). */
export class WithAdapter extends Module {
  readonly layer: Linear;
  readonly adapter: BottleneckAdapter;

  constructor(layer: Linear, adapter: BottleneckAdapter) {
    super();
    this.layer = layer;
    this.adapter = adapter;
  }

  forward(x: Tensor): Tensor {
    return this.adapter.forward(this.layer.forward(x));
  }
}
