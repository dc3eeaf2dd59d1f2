// AdamW with torch.optim.AdamW semantics (decoupled weight decay, bias correction, eps
// added after the bias-corrected square root). Matching PyTorch here matters: MLX once
// shipped AdamW without bias correction and its training diverged from PyTorch's.
import { native } from '../tensor/native.js';
import { Bf16StorageError, Tensor, allocate } from '../tensor/tensor.js';
import type { Parameter } from '../nn/module.js';
import { recycleGradient } from '../tensor/pool.js';

export interface AdamWConfig {
  lr: number;
  betas?: [number, number]; // default (0.9, 0.999)
  eps?: number; // default 1e-8
  weightDecay?: number; // default 0.01, torch's AdamW default
}

export interface ParamGroup {
  params: Parameter[];
  /** Overrides the optimizer's weight decay for this group (e.g. 0 for biases and norms). */
  weightDecay?: number;
}

interface SlotState {
  expAvg: Float32Array | Float64Array;
  expAvgSq: Float32Array | Float64Array;
  /** Updates this parameter has had: torch's per-parameter state['step'], the bias-correction count. */
  step: number;
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  readonly groups: ParamGroup[];
  /**
   * Number of step() calls so far. Bias correction does not use it: like torch, each parameter
   * counts its own updates, which differ when a parameter has no gradient in some steps (DL
   * trains only the sampled harmonizers).
   */
  stepCount = 0;
  private readonly state = new Map<Parameter, SlotState>();

  constructor(params: Parameter[] | ParamGroup[], config: AdamWConfig) {
    this.lr = config.lr;
    [this.beta1, this.beta2] = config.betas ?? [0.9, 0.999];
    this.eps = config.eps ?? 1e-8;
    this.weightDecay = config.weightDecay ?? 0.01;
    const isGroups = params.length > 0 && !(params[0] instanceof Tensor);
    this.groups = isGroups ? (params as ParamGroup[]) : [{ params: params as Parameter[] }];
    for (const g of this.groups) {
      for (const p of g.params) {
        if (p.bf16) throw new Bf16StorageError(`AdamW: a parameter of shape [${p.shape.join(', ')}] is held in bf16 (weights for inference) and cannot be trained; load the model with float32 weights`);
      }
    }
    if (!(this.lr >= 0) || !(this.eps >= 0) || !(this.beta1 >= 0 && this.beta1 < 1) || !(this.beta2 >= 0 && this.beta2 < 1)) {
      throw new RangeError(`AdamW: invalid hyper-parameters lr=${this.lr} betas=(${this.beta1}, ${this.beta2}) eps=${this.eps}`);
    }
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    for (const group of this.groups) {
      const wd = group.weightDecay ?? this.weightDecay;
      for (const p of group.params) {
        if (!p.grad || !p.requiresGrad) continue;
        let s = this.state.get(p);
        if (!s) {
          s = { expAvg: allocate(p.size, p.dtype), expAvgSq: allocate(p.size, p.dtype), step: 0 };
          this.state.set(p, s);
        }
        const t = ++s.step;
        // Scalars in double, as Python floats in torch/optim/adamw.py.
        const stepSize = this.lr / (1 - Math.pow(this.beta1, t));
        const bc2Sqrt = Math.sqrt(1 - Math.pow(this.beta2, t));
        native.adamwStep(p.size, p.data, p.grad.data, s.expAvg, s.expAvgSq, 1 - this.lr * wd, this.beta1,
          1 - this.beta1, this.beta2, 1 - this.beta2, stepSize, bc2Sqrt, this.eps);
      }
    }
  }

  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        if (p.grad) recycleGradient(p.grad); // a training step's gradient array goes back to the pool
        p.grad = null;
      }
    }
  }

  /** Moments by parameter index (group order), for checkpoints. */
  stateDict(): { step: number; lr: number; moments: { index: number; step?: number; expAvg: number[] | Float32Array | Float64Array; expAvgSq: Float32Array | Float64Array }[] } {
    const moments = [];
    let index = 0;
    for (const g of this.groups) {
      for (const p of g.params) {
        const s = this.state.get(p);
        if (s) moments.push({ index, step: s.step, expAvg: s.expAvg, expAvgSq: s.expAvgSq });
        index++;
      }
    }
    return { step: this.stepCount, lr: this.lr, moments };
  }

  loadStateDict(sd: ReturnType<AdamW['stateDict']>): void {
    const params = this.groups.flatMap((g) => g.params);
    this.stepCount = sd.step;
    this.lr = sd.lr;
    this.state.clear();
    for (const m of sd.moments) {
      const p = params[m.index];
      if (!p || m.expAvg.length !== p.size || m.expAvgSq.length !== p.size) {
        throw new Error(`AdamW.loadStateDict: moment ${m.index} does not match the parameters`);
      }
      const expAvg = allocate(p.size, p.dtype), expAvgSq = allocate(p.size, p.dtype);
      expAvg.set(m.expAvg);
      expAvgSq.set(m.expAvgSq);
      // States saved before per-parameter counts existed had every parameter at the global count.
      this.state.set(p, { expAvg, expAvgSq, step: m.step ?? sd.step });
    }
  }
}
