// The basic layers: Linear, Embedding, LayerNorm, RMSNorm, Dropout.
import { Tensor, ones } from '../tensor/tensor.js';
import { linear } from '../tensor/ops/matmul.js';
import { embedding } from '../tensor/ops/embedding.js';
import { layerNorm, rmsNorm } from '../tensor/ops/norm.js';
import { dropout } from '../tensor/ops/dropout.js';
import { Rng } from '../util/rng.js';
import { Module, Parameter } from './module.js';

export interface LinearOptions {
  bias?: boolean; // default true
  /**
   * 'out_in': weight (out, in) as torch.nn.Linear; 'in_out': weight (in, out) as GPT-2's
   * Conv1D. Kept as stored so checkpoints round-trip without transposes.
   */
  layout?: 'out_in' | 'in_out';
  /** Initialisation: normal(0, std) when std is given, else torch's U(-1/sqrt(in), 1/sqrt(in)). */
  std?: number;
  rng?: Rng;
  /** false: leave the weights zero (they are about to be loaded from a checkpoint). */
  init?: boolean;
}

export class Linear extends Module {
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly layout: 'out_in' | 'in_out';

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: LinearOptions = {}) {
    super();
    this.layout = opts.layout ?? 'out_in';
    const shape = this.layout === 'out_in' ? [outFeatures, inFeatures] : [inFeatures, outFeatures];
    this.weight = Parameter.zeros(shape);
    this.bias = opts.bias === false ? null : Parameter.zeros([outFeatures]);
    const rng = opts.rng ?? new Rng(0);
    if (opts.init === false) return;
    if (opts.std !== undefined) {
      for (let i = 0; i < this.weight.size; i++) this.weight.data[i] = rng.normal() * opts.std;
    } else {
      const bound = 1 / Math.sqrt(inFeatures);
      for (let i = 0; i < this.weight.size; i++) this.weight.data[i] = (2 * rng.uniform() - 1) * bound;
      if (this.bias) for (let i = 0; i < this.bias.size; i++) this.bias.data[i] = (2 * rng.uniform() - 1) * bound;
    }
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias, this.layout);
  }
}

export class Embedding extends Module {
  readonly weight: Parameter;

  constructor(readonly numEmbeddings: number, readonly dim: number, opts: { std?: number; rng?: Rng; init?: boolean } = {}) {
    super();
    this.weight = Parameter.zeros([numEmbeddings, dim]);
    if (opts.init === false) return;
    const rng = opts.rng ?? new Rng(0);
    const std = opts.std ?? 1;
    for (let i = 0; i < this.weight.size; i++) this.weight.data[i] = rng.normal() * std;
  }

  forward(ids: Int32Array, shape: readonly number[] = [ids.length]): Tensor {
    return embedding(this.weight, ids, shape);
  }
}

export class LayerNorm extends Module {
  /** null when the norm has no learned affine map (elementwise_affine=False). */
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  private readonly unitWeight: Tensor | null;

  constructor(readonly dim: number, readonly eps = 1e-5, opts: { bias?: boolean; affine?: boolean } = {}) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? Parameter.zeros([dim]) : null;
    this.weight?.data.fill(1);
    this.bias = affine && opts.bias !== false ? Parameter.zeros([dim]) : null;
    // The fused kernel always applies a weight: without an affine map it is a constant 1.
    this.unitWeight = affine ? null : ones([dim]);
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight ?? (this.unitWeight as Tensor), this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  readonly weight: Parameter;

  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = Parameter.zeros([dim]);
    this.weight.data.fill(1);
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

export class Dropout extends Module {
  constructor(readonly p: number, private readonly rng: Rng = new Rng(0)) {
    super();
    if (!(p >= 0 && p < 1)) throw new RangeError(`Dropout: probability ${p} must be in [0, 1)`);
  }

  forward(x: Tensor): Tensor {
    return dropout(x, this.p, this.rng, this.training);
  }
}
