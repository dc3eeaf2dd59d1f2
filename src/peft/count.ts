// Parameter counts from a config alone (no weights), for the paper's Table 3: LoRA r on
// every linear weight of the adapted blocks, two bottleneck adapters of width w per block.
import type { Architecture } from '../models/causal_lm.js';
import { gpt2ConfigFromHF } from '../models/gpt2.js';
import { optConfigFromHF } from '../models/opt.js';
import { llamaConfigFromHF } from '../models/llama.js';

export interface LinearShape {
  path: string;
  in: number;
  out: number;
}

/** The linear layers of one block, from a Hugging Face config. */
export function blockLinearShapes(arch: Architecture, hf: Record<string, unknown>): LinearShape[] {
  if (arch === 'gpt2') {
    const c = gpt2ConfigFromHF(hf);
    const C = c.nEmbd, I = c.nInner ?? 4 * C;
    return [
      { path: 'attn.c_attn', in: C, out: 3 * C }, { path: 'attn.c_proj', in: C, out: C },
      { path: 'mlp.c_fc', in: C, out: I }, { path: 'mlp.c_proj', in: I, out: C },
    ];
  }
  if (arch === 'opt') {
    const c = optConfigFromHF(hf);
    const C = c.hiddenSize;
    return [
      ...['q_proj', 'k_proj', 'v_proj', 'out_proj'].map((n) => ({ path: `self_attn.${n}`, in: C, out: C })),
      { path: 'fc1', in: C, out: c.ffnDim }, { path: 'fc2', in: c.ffnDim, out: C },
    ];
  }
  const c = llamaConfigFromHF(hf);
  const C = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim, I = c.intermediateSize;
  return [
    { path: 'self_attn.q_proj', in: C, out: q }, { path: 'self_attn.k_proj', in: C, out: kv },
    { path: 'self_attn.v_proj', in: C, out: kv }, { path: 'self_attn.o_proj', in: q, out: C },
    { path: 'mlp.gate_proj', in: C, out: I }, { path: 'mlp.up_proj', in: C, out: I }, { path: 'mlp.down_proj', in: I, out: C },
  ];
}

export function hiddenSize(arch: Architecture, hf: Record<string, unknown>): number {
  return arch === 'gpt2' ? gpt2ConfigFromHF(hf).nEmbd : arch === 'opt' ? optConfigFromHF(hf).hiddenSize : llamaConfigFromHF(hf).hiddenSize;
}

/** LoRA rank r on all linear weights of `blocks` blocks: r (in + out) per matrix. */
export function loraParameterCount(arch: Architecture, hf: Record<string, unknown>, blocks: number, r = 4): number {
  return blocks * blockLinearShapes(arch, hf).reduce((a, l) => a + r * (l.in + l.out), 0);
}

/** Two bottleneck adapters of width w per block: 2 (2 C w + w + C). */
export function bottleneckParameterCount(arch: Architecture, hf: Record<string, unknown>, blocks: number, width = 64): number {
  const C = hiddenSize(arch, hf);
  return blocks * 2 * (2 * C * width + width + C);
}
