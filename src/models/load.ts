// Opens a Hugging Face checkpoint directory and builds the matching architecture.
import { Checkpoint, CheckpointError } from '../io/checkpoint.js';
import type { CausalLM, Architecture } from './causal_lm.js';
import { GPT2LMHeadModel, gpt2ConfigFromHF } from './gpt2.js';
import { OPTForCausalLM, optConfigFromHF } from './opt.js';
import { LlamaForCausalLM, llamaConfigFromHF } from './llama.js';

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

/** The checkpoint name of a parameter (LLaMA's untied head field is "lm_head.weight"). */
export function hfNameOf(paramName: string): string {
  return paramName === 'lm_head' ? 'lm_head.weight' : paramName;
}

/** Where block i's parameters live, by architecture. */
export function blockPrefix(arch: Architecture, i: number): string {
  return arch === 'gpt2' ? `transformer.h.${i}.` : arch === 'opt' ? `model.decoder.layers.${i}.` : `model.layers.${i}.`;
}

/** Loads a model from a local checkpoint directory (config.json + safetensors). */
export function loadModel(dir: string): CausalLM {
  const ckpt = Checkpoint.open(dir);
  try {
    switch (architectureOf(ckpt.config, `${dir}/config.json`)) {
      case 'gpt2':
        return GPT2LMHeadModel.fromCheckpoint(ckpt);
      case 'opt':
        return OPTForCausalLM.fromCheckpoint(ckpt);
      case 'llama':
        return LlamaForCausalLM.fromCheckpoint(ckpt);
    }
  } finally {
    ckpt.close();
  }
}
