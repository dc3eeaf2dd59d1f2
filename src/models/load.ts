// Opens a Hugging Face checkpoint directory and builds the matching architecture.
import { withMatmulPrecision } from '../tensor/ops/matmul.js';
import { Checkpoint, CheckpointError } from '../io/checkpoint.js';
import type { CausalLM, Architecture, ArchitectureSpec, WeightStorage } from './causal_lm.js';
import { GPT2LMHeadModel, gpt2ConfigFromHF, gpt2Spec } from './gpt2.js';
import { OPTForCausalLM, optConfigFromHF, optSpec } from './opt.js';
import { LlamaForCausalLM, llamaConfigFromHF, llamaSpec } from './llama.js';

const BY_ARCHITECTURE: Record<string, Architecture> = {
  GPT2LMHeadModel: 'gpt2', GPT2Model: 'gpt2', OPTForCausalLM: 'opt', OPTModel: 'opt', LlamaForCausalLM: 'llama', LlamaModel: 'llama',
};

export function architectureOf(config: Record<string, unknown>, where: string): Architecture {
  const mt = config.model_type;
  if (mt === 'gpt2' || mt === 'opt' || mt === 'llama') return mt;
  const archs = config.architectures;
  if (Array.isArray(archs) && typeof archs[0] === 'string' && archs[0] in BY_ARCHITECTURE) return BY_ARCHITECTURE[archs[0]];
  throw new CheckpointError(`${where}: unknown architecture (model_type ${JSON.stringify(mt)}, architectures ${JSON.stringify(archs)}); supported: gpt2, opt, llama`);
}

/** A model of the config's architecture with zero weights (to be filled by the caller). */
export function emptyModel(config: Record<string, unknown>, where = 'config.json'): CausalLM {
  switch (architectureOf(config, where)) {
    case 'gpt2':
      return new GPT2LMHeadModel(gpt2ConfigFromHF(config, where), 0, { init: false, hfConfig: config });
    case 'opt':
      return new OPTForCausalLM(optConfigFromHF(config, where), 0, { init: false, hfConfig: config });
    case 'llama':
      return new LlamaForCausalLM(llamaConfigFromHF(config, where), 0, { init: false, hfConfig: config });
  }
}

/**
 * A model of this config initialised by the architecture's own scheme (seeded): what a
 * training run starts from, and the fresh blocks of the privacy audit's attacker.
 */
export function initialisedModel(config: Record<string, unknown>, seed: number, where = 'config.json'): CausalLM {
  switch (architectureOf(config, where)) {
    case 'gpt2':
      return new GPT2LMHeadModel(gpt2ConfigFromHF(config, where), seed, { hfConfig: config });
    case 'opt':
      return new OPTForCausalLM(optConfigFromHF(config, where), seed, { hfConfig: config });
    case 'llama':
      return new LlamaForCausalLM(llamaConfigFromHF(config, where), seed, { hfConfig: config });
  }
}

/** The architecture spec of a Hugging Face config, without building the model (no weights). */
export function specFromHF(config: Record<string, unknown>, where = 'config.json'): ArchitectureSpec {
  switch (architectureOf(config, where)) {
    case 'gpt2':
      return gpt2Spec(gpt2ConfigFromHF(config, where));
    case 'opt':
      return optSpec(optConfigFromHF(config, where));
    case 'llama':
      return llamaSpec(llamaConfigFromHF(config, where));
  }
}

export interface LoadOptions {
  /** 'fp32' (default), 'bf16' (matrices held in bf16, inference only), or 'auto': bf16 when the checkpoint stores every tensor in BF16 (lossless then), else fp32. */
  weights?: WeightStorage | 'auto';
}

/** The weight storage `requested` means for this checkpoint ('auto' resolved). */
export function weightStorageFor(ckpt: Checkpoint, requested: WeightStorage | 'auto' = 'fp32'): WeightStorage {
  if (requested !== 'auto') return requested;
  // F16 -> bf16 drops three mantissa bits, so only a checkpoint already in BF16 goes there by itself.
  return ckpt.names().every((n) => ckpt.info(n).dtype === 'BF16') ? 'bf16' : 'fp32';
}

/** Loads a model from a local checkpoint directory (config.json + safetensors). */
export function loadModel(dir: string, opts: LoadOptions = {}): CausalLM {
  const ckpt = Checkpoint.open(dir);
  try {
    const weights = weightStorageFor(ckpt, opts.weights);
    const model = ((): CausalLM => {
      switch (architectureOf(ckpt.config, `${dir}/config.json`)) {
        case 'gpt2':
          return GPT2LMHeadModel.fromCheckpoint(ckpt, weights);
        case 'opt':
          return OPTForCausalLM.fromCheckpoint(ckpt, weights);
        case 'llama':
          return LlamaForCausalLM.fromCheckpoint(ckpt, weights);
      }
    })();
    return weights === 'bf16' ? runningInBf16(model) : model;
  } finally {
    ckpt.close();
  }
}

/**
 * A model holding its matrices in bf16 runs as a bf16 model does under torch.autocast: its
 * weight products are bf16 by construction (the weights are bf16 bits), and the products
 * that take no weight — the fused attention's QKᵀ and PV — must follow, so its two entry
 * points run inside a bf16 scope.
 */
function runningInBf16(model: CausalLM): CausalLM {
  const forward = model.forward.bind(model), loss = model.loss.bind(model);
  model.forward = (ids, B, T, cache) => withMatmulPrecision('bf16', () => forward(ids, B, T, cache));
  model.loss = (ids, targets, B, T) => withMatmulPrecision('bf16', () => loss(ids, targets, B, T));
  return model;
}
