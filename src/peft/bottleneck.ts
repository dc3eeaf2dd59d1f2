// Bottleneck adapters (Houlsby et al.): a(h) = h + W_up act(W_down h + b_down) + b_up of
// width 64, one after the attention output projection and one after the FFN output, per
// adapted block. W_up starts at zero (identity), as peft-style adapters do.
import type { Tensor } from '../tensor/tensor.js';
import { add } from '../tensor/ops/arithmetic.js';
import { gelu } from '../tensor/ops/activation.js';
import { Module, Parameter } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { getPath, setPath } from '../nn/paths.js';
import { Rng } from '../util/rng.js';
import { blockPrefix, type ArchitectureSpec, type CausalLM } from '../models/causal_lm.js';
import type { Tuner } from './tuner.js';
import { weightedMean } from './aggregate.js';

/** Width of the bottleneck adapters (the paper's Table 3). */
export const ADAPTER_WIDTH = 64;

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

/** The attention and FFN output projections, after which bottleneck adapters sit. */
export function adapterSites(spec: ArchitectureSpec): string[] {
  return [spec.attentionLinears[spec.attentionLinears.length - 1].path, spec.ffnLinears[spec.ffnLinears.length - 1].path];
}

/** The output projections of `blocks`, checked to be plain linear layers. */
function sites(model: CausalLM, blocks: number[]): { name: string; block: Module; path: string; lin: Linear }[] {
  return blocks.flatMap((i) => adapterSites(model.spec).map((path) => {
    const block = model.blocks.at(i);
    const lin = getPath(block, path);
    const name = `${blockPrefix(model.spec, i)}${path}`;
    if (!(lin instanceof Linear)) throw new Error(`adapter: ${name} is not a linear layer`);
    return { name, block, path, lin };
  }));
}

/**
 * Two bottleneck adapters per adapter block. They add modules that no plain checkpoint can
 * hold, so there is no merge: the model owner attaches them in process.
 */
export const bottleneckTuner: Tuner = {
  name: 'adapter',
  // FedAvg of the adapters' parameters (the bottleneck is non-linear: this is not the mean
  // of the members' functions, as in federated averaging of any network).
  aggregate: (members) => ({ ...weightedMean(members), config: undefined }),
  description: `two bottleneck adapters of width ${ADAPTER_WIDTH} per adapter block`,
  prepare(model, blocks, opts) {
    model.requiresGrad(false);
    const rng = new Rng(opts.seed);
    const named: [string, Parameter][] = [];
    for (const { name, block, path, lin } of sites(model, blocks)) {
      const w = new WithAdapter(lin, new BottleneckAdapter(model.spec.hiddenSize, ADAPTER_WIDTH, rng));
      setPath(block, path, w);
      for (const [n, p] of w.adapter.namedParameters()) named.push([`${name}.adapter.${n}`, p]);
    }
    for (const [, p] of named) p.requiresGrad = true;
    return named;
  },
  expectedShapes(model, blocks) {
    const template = new BottleneckAdapter(model.spec.hiddenSize, ADAPTER_WIDTH);
    const out = new Map<string, readonly number[]>();
    for (const { name } of sites(model, blocks)) for (const [n, p] of template.namedParameters()) out.set(`${name}.adapter.${n}`, p.shape);
    return out;
  },
};
