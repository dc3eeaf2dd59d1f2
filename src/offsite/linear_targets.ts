// Where each architecture keeps the linear layers that SRC compresses and PEFT adapts:
// attention projections (GPT-2's fused c_attn counts as one matrix, as the paper's
// parameter counts assume) and FFN matrices, by dotted path inside a block.
import type { Architecture } from '../models/causal_lm.js';

export const ATTENTION_LINEARS: Record<Architecture, string[]> = {
  gpt2: ['attn.c_attn', 'attn.c_proj'],
  opt: ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.out_proj'],
  llama: ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj'],
};

export const FFN_LINEARS: Record<Architecture, string[]> = {
  gpt2: ['mlp.c_fc', 'mlp.c_proj'],
  opt: ['fc1', 'fc2'],
  llama: ['mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj'],
};

export type SrcTarget = 'attn' | 'ffn' | 'all';

export function linearPaths(arch: Architecture, target: SrcTarget): string[] {
  return target === 'attn' ? ATTENTION_LINEARS[arch] : target === 'ffn' ? FFN_LINEARS[arch] : [...ATTENTION_LINEARS[arch], ...FFN_LINEARS[arch]];
}

/** Follows a dotted path of fields from a module. */
export function getPath(root: object, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root);
}

/** Replaces the module at a dotted path (fields are readonly in TypeScript only). */
export function setPath(root: object, path: string, value: unknown): void {
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root) as Record<string, unknown>;
  const last = keys[keys.length - 1];
  if (!(last in parent)) throw new Error(`no module at "${path}"`);
  parent[last] = value;
}
