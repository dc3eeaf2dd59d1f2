// LoRA (Hu et al.; peft's tuners/lora): y = W x + b + (α / r) B A x with A (r, in) drawn
// like torch's Linear init and B (out, r) zero, so a fresh adapter changes nothing. The
// base weight stays frozen; merge() folds (α / r) B A into it (transposed for GPT-2's
// Conv1D, whose weight is stored (in, out): peft's fan_in_fan_out).
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { add, mulScalar } from '../tensor/ops/arithmetic.js';
import { Module, Parameter } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { getPath, setPath } from '../nn/paths.js';
import { Rng } from '../util/rng.js';
import { blockPrefix, linearPaths, type CausalLM } from '../models/causal_lm.js';
import { specFromHF } from '../models/load.js';
import { writeSafetensors } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Tuner } from './tuner.js';

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

/** Every linear layer of `blocks` as (block prefix + path, layer); errors name a non-linear one. */
function adaptedLinears(model: CausalLM, blocks: number[]): { name: string; block: Module; path: string; lin: Linear }[] {
  return blocks.flatMap((i) => linearPaths(model.spec, 'all').map((path) => {
    const block = model.blocks.at(i);
    const lin = getPath(block, path);
    const name = `${blockPrefix(model.spec, i)}${path}`;
    if (!(lin instanceof Linear)) throw new Error(`LoRA: ${name} is not a linear layer`);
    return { name, block, path, lin };
  }));
}

const loraConfig = (config: unknown): LoraConfig => (config as LoraConfig | undefined) ?? DEFAULT_LORA;

/** LoRA r = 4 (α = 8) on every linear weight of the adapter blocks; merged at plug-in. */
export const loraTuner: Tuner = {
  name: 'lora',
  description: `LoRA on all linear weights of the adapter blocks (r ${DEFAULT_LORA.r}, alpha ${DEFAULT_LORA.alpha})`,
  prepare(model, blocks, opts) {
    model.requiresGrad(false);
    const rng = new Rng(opts.seed);
    const named: [string, Parameter][] = [];
    for (const { name, block, path, lin } of adaptedLinears(model, blocks)) {
      const l = new LoraLinear(lin, loraConfig(opts.config), rng);
      setPath(block, path, l);
      named.push([`${name}.lora_A.weight`, l.lora_A.weight], [`${name}.lora_B.weight`, l.lora_B.weight]);
    }
    for (const [, p] of named) p.requiresGrad = true;
    return named;
  },
  expectedShapes(model, blocks, config) {
    const { r } = loraConfig(config);
    const out = new Map<string, readonly number[]>();
    for (const { name, lin } of adaptedLinears(model, blocks)) {
      out.set(`${name}.lora_A.weight`, [r, lin.inFeatures]);
      out.set(`${name}.lora_B.weight`, [lin.outFeatures, r]);
    }
    return out;
  },
  merge(model, blocks) {
    for (const i of blocks) {
      const block = model.blocks.at(i);
      for (const path of linearPaths(model.spec, 'all')) {
        const l = getPath(block, path);
        if (!(l instanceof LoraLinear)) continue;
        l.merge();
        setPath(block, path, l.base_layer);
      }
    }
  },
  /**
   * The exact weighted mean of the deltas Σ_k w_k (α/r) B_k A_k (averaging A and B separately
   * would not be): a LoRA of rank K·r whose A stacks the members' A_k and whose B places
   * w_k B_k side by side, with α' = K·α so that α'/r' = α/r. PEFT loads it as any LoRA.
   */
  aggregate(members) {
    const cfg = loraConfig(members[0].config);
    for (const m of members) {
      const c = loraConfig(m.config);
      if (c.r !== cfg.r || c.alpha !== cfg.alpha) throw new Error(`aggregate: LoRA adapters of different r / alpha (${c.r}/${c.alpha} vs ${cfg.r}/${cfg.alpha})`);
    }
    const K = members.length, r = cfg.r;
    const tensors = new Map<string, Float32Array>(), shapes = new Map<string, readonly number[]>();
    for (const name of members[0].tensors.keys()) {
      if (!name.endsWith('.lora_A.weight')) continue;
      const base = name.slice(0, -'.lora_A.weight'.length);
      const [, inn] = members[0].shapes.get(name)!;
      const [out] = members[0].shapes.get(`${base}.lora_B.weight`)!;
      const A = new Float32Array(K * r * inn), B = new Float32Array(out * K * r);
      members.forEach((m, k) => {
        const a = m.tensors.get(name), b = m.tensors.get(`${base}.lora_B.weight`);
        if (!a || !b || a.length !== r * inn || b.length !== out * r) throw new Error(`aggregate: an adapter lacks ${base} or holds it in another shape`);
        A.set(a, k * r * inn); // rows k r .. (k + 1) r - 1
        for (let i = 0; i < out; i++) for (let q = 0; q < r; q++) B[i * K * r + k * r + q] = m.weight * b[i * r + q];
      });
      tensors.set(name, A).set(`${base}.lora_B.weight`, B);
      shapes.set(name, [K * r, inn]).set(`${base}.lora_B.weight`, [out, K * r]);
    }
    return { tensors, shapes, config: { r: K * r, alpha: K * cfg.alpha } };
  },
  manifestFields: (config) => ({ lora: loraConfig(config) }),
  configFromManifest: (m) => m.lora,
  exportFiles(dir, tensors, ctx) {
    // peft's layout: the same deltas under base_model.model.<name>, and adapter_config.json
    // (fan_in_fan_out for weights stored (in, out), as GPT-2's Conv1D).
    const spec = specFromHF(ctx.architectureConfig);
    const { r, alpha } = loraConfig(ctx.config);
    writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors.map((t) => ({ ...t, name: `base_model.model.${t.name}` })), { format: 'pt' });
    const leafs = [...new Set(linearPaths(spec, 'all').map((p) => p.split('.').pop()!))];
    writeFileAtomic(join(dir, 'adapter_config.json'), JSON.stringify({
      peft_type: 'LORA', task_type: 'CAUSAL_LM', r, lora_alpha: alpha, lora_dropout: 0, bias: 'none',
      target_modules: leafs, layers_to_transform: ctx.blocks, fan_in_fan_out: spec.linearLayout === 'in_out',
      base_model_name_or_path: null, inference_mode: true,
    }, null, 2) + '\n');
    return ['adapter_model.safetensors', 'adapter_config.json'];
  },
};
