// LoRA (Hu et al.; peft's tuners/lora): y = W x + b + (α / r) B A x with A (r, in) drawn
// like torch's Linear init and B (out, r) zero, so a fresh adapter changes nothing. The
// base weight stays frozen; merge() folds (α / r) B A into it (transposed for GPT-2's
// Conv1D, whose weight is stored (in, out): peft's fan_in_fan_out).
import type { Tensor } from '../tensor/tensor.js';
import { add, mulScalar } from '../tensor/ops/arithmetic.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { Rng } from '../util/rng.js';

export interface LoraConfig {
  r: number; // 4 in the paper's PEFT comparison
  alpha: number; // lora_alpha; peft's default is 8
}

export const DEFAULT_LORA: LoraConfig = { r: 4, alpha: 8 };

export class LoraLinear extends Module {
  readonly base_layer: Linear;
  readonly lora_A: Linear; // (r, in)
  readonly lora_B: Linear; // (out, r), zero at init
  readonly scaling: number;
  merged = false;

  constructor(base: Linear, readonly config: LoraConfig, rng: Rng = new Rng(0)) {
    super();
    this.base_layer = base;
    base.requiresGrad(false);
    this.lora_A = new Linear(base.inFeatures, config.r, { bias: false, rng });
    this.lora_B = new Linear(config.r, base.outFeatures, { bias: false, init: false });
    this.scaling = config.alpha / config.r;
  }

  forward(x: Tensor): Tensor {
    const y = this.base_layer.forward(x);
    if (this.merged) return y;
    return add(y, mulScalar(this.lora_B.forward(this.lora_A.forward(x)), this.scaling));
  }

  /** ΔW = (α / r) B A as (out, in). */
  deltaWeight(): Float32Array {
    const { r } = this.config;
    const out = this.base_layer.outFeatures, inn = this.base_layer.inFeatures;
    const A = this.lora_A.weight.data, B = this.lora_B.weight.data;
    const d = new Float32Array(out * inn);
    for (let i = 0; i < out; i++)
      for (let q = 0; q < r; q++) {
        const b = B[i * r + q] * this.scaling;
        if (b === 0) continue;
        for (let j = 0; j < inn; j++) d[i * inn + j] += b * A[q * inn + j];
      }
    return d;
  }

  private addDelta(sign: number): void {
    const d = this.deltaWeight();
    const w = this.base_layer.weight.data;
    const out = this.base_layer.outFeatures, inn = this.base_layer.inFeatures;
    if (this.base_layer.layout === 'out_in') for (let k = 0; k < d.length; k++) w[k] += sign * d[k];
    else for (let i = 0; i < out; i++) for (let j = 0; j < inn; j++) w[j * out + i] += sign * d[i * inn + j]; // fan_in_fan_out
  }

  merge(): void {
    if (this.merged) return;
    this.addDelta(1);
    this.merged = true;
  }

  unmerge(): void {
    if (!this.merged) return;
    this.addDelta(-1);
    this.merged = false;
  }
}
