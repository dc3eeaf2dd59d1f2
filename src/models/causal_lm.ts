// What every architecture file (gpt2.ts, opt.ts, llama.ts) provides: a causal language
// model whose transformer blocks form an indexable list (the unit offsite-tuning keeps,
// replaces or compresses) around a frozen trunk (embeddings, final norm, head), with a
// KV cache for generation and a mapping to Hugging Face tensor names.
import { type Tensor, bf16Bits, fromBf16Bits, valuesOf } from '../tensor/tensor.js';
import type { Module, ModuleList, Parameter } from '../nn/module.js';
import type { Checkpoint } from '../io/checkpoint.js';
import type { TensorToWrite } from '../io/safetensors.js';
import { concat } from '../tensor/ops/shape.js';
import { isGradEnabled } from '../tensor/autograd.js';
import { withBufferScope } from '../tensor/pool.js';

export type Architecture = 'gpt2' | 'opt' | 'llama';

/** Keys and values of one attention layer, (B, Hkv, T_past, D) each. */
export interface LayerCache {
  k: Tensor | null;
  v: Tensor | null;
}

/** One layer's view of a KVCache, handed to its attention. */
export interface LayerKV {
  /** Appends new keys/values (B, Hkv, T, D) and returns all of them. */
  append(k: Tensor, v: Tensor): { k: Tensor; v: Tensor };
}

/** Per-layer keys/values of the tokens seen so far. */
export class KVCache {
  readonly layers: LayerCache[];
  /** Number of positions already in the cache. */
  length = 0;

  constructor(numLayers: number) {
    this.layers = Array.from({ length: numLayers }, () => ({ k: null, v: null }));
  }

  /** Appends new keys/values (B, Hkv, T, D) for layer i and returns the full ones. */
  append(i: number, k: Tensor, v: Tensor): { k: Tensor; v: Tensor } {
    const c = this.layers[i];
    c.k = c.k ? concat([c.k, k], 2) : k;
    c.v = c.v ? concat([c.v, v], 2) : v;
    return { k: c.k, v: c.v };
  }

  forLayer(i: number): LayerKV {
    return { append: (k, v) => this.append(i, k, v) };
  }
}

/**
 * What a block is called with besides its hidden states: where the new tokens start (LLaMA's
 * rotary positions need it) and, during generation, this layer's KV cache. Real blocks,
 * harmonizers and dropped blocks all take this one context.
 */
export interface BlockContext {
  /** Position of the first new token (the number of cached tokens). */
  positionOffset: number;
  cache?: LayerKV;
}

/** The context of a plain forward pass: no cache, positions from 0. */
export const NO_CACHE: BlockContext = Object.freeze({ positionOffset: 0 });

/**
 * A transformer block as the model runs it: anything that maps hidden states (B, T, C) to
 * hidden states. Offsite-tuning swaps blocks for harmonizers or compressed copies, which
 * take the same call.
 */
export interface Block extends Module {
  forward(x: Tensor, ctx?: BlockContext): Tensor;
}

/**
 * Runs a model's blocks in order (`cache` holds past keys and values in generation).
 * Scoring (no gradient recording, no cache) runs each block in a buffer scope: its
 * temporaries go back to the pool as it returns and the next block reuses them, so a
 * forward pass allocates about one block's worth of arrays, not the whole stack's.
 */
export function runBlocks(blocks: Iterable<Block>, x: Tensor, past: number, cache?: KVCache): Tensor {
  let i = 0;
  for (const block of blocks) {
    const ctx: BlockContext = { positionOffset: past, cache: cache?.forLayer(i++) };
    const input = x;
    x = !cache && !isGradEnabled() ? withBufferScope(() => block.forward(input, ctx), (y) => [y]) : block.forward(input, ctx);
  }
  return x;
}

/** Which linear layers of a block a method targets (SRC, LoRA): attention, FFN or both. */
export type LinearTarget = 'attn' | 'ffn' | 'all';

/** One linear layer of a block: its dotted path inside the block and (in, out) features. */
export interface LinearShape {
  path: string;
  in: number;
  out: number;
}

/**
 * The facts about an architecture that offsite tuning, PEFT and the experiment layer need,
 * stated by each model file (nothing outside models/ decides them).
 */
export interface ArchitectureSpec {
  readonly architecture: Architecture;
  /** d_model: the width of the hidden states between blocks. */
  readonly hiddenSize: number;
  readonly numBlocks: number;
  /** The parameter-name prefix shared by all blocks ("transformer.h." for GPT-2). */
  readonly blocksPrefix: string;
  /** Attention projections in order, the output projection last (GPT-2's fused c_attn is one matrix, as the paper counts it). */
  readonly attentionLinears: readonly LinearShape[];
  /** FFN matrices in order, the output projection last. */
  readonly ffnLinears: readonly LinearShape[];
  /**
   * How linear weights are stored: 'in_out' for GPT-2's Conv1D (peft's fan_in_fan_out),
   * 'out_in' for torch.nn.Linear.
   */
  readonly linearLayout: 'out_in' | 'in_out';
  /** The Hugging Face checkpoint name of a parameter path of this model. */
  hfName(paramName: string): string;
}

/**
 * The two linear layers whose outputs are added to the residual stream (attention's and the
 * FFN's output projections): with their weights and biases zero a block is the identity.
 */
export function residualOutputPaths(spec: ArchitectureSpec): string[] {
  return [spec.attentionLinears[spec.attentionLinears.length - 1].path, spec.ffnLinears[spec.ffnLinears.length - 1].path];
}

/** Where block i's parameters live (a name prefix ending in "."). */
export function blockPrefix(spec: ArchitectureSpec, i: number): string {
  return `${spec.blocksPrefix}${i}.`;
}

/** The block a parameter or checkpoint name belongs to, or -1 for the trunk. */
export function blockIndexOf(spec: ArchitectureSpec, name: string): number {
  if (!name.startsWith(spec.blocksPrefix)) return -1;
  const i = Number(name.slice(spec.blocksPrefix.length).split('.')[0]);
  return Number.isInteger(i) && i >= 0 && i < spec.numBlocks ? i : -1;
}

/** The dotted paths of a block's linear layers for a target. */
export function linearPaths(spec: ArchitectureSpec, target: LinearTarget): string[] {
  const attn = spec.attentionLinears.map((l) => l.path), ffn = spec.ffnLinears.map((l) => l.path);
  return target === 'attn' ? attn : target === 'ffn' ? ffn : [...attn, ...ffn];
}

/** The trunk: every parameter outside the blocks (embeddings, final norm, head). */
export function trunkOf(spec: ArchitectureSpec, named: [string, Parameter][]): [string, Parameter][] {
  return named.filter(([n]) => blockIndexOf(spec, n) < 0);
}

export interface CausalLM extends Module {
  readonly architecture: Architecture;
  /** Hidden size, block layout, linear layers, HF names and weight layout. */
  readonly spec: ArchitectureSpec;
  /** The Hugging Face config this model was built from (written back on save). */
  readonly hfConfig: Record<string, unknown>;
  readonly vocabSize: number;
  /** Maximum context in tokens (the harness's max_length). */
  readonly maxContext: number;
  /** The transformer blocks, in order. */
  readonly blocks: ModuleList<Block>;
  /** Logits (B, T, V) for ids (B*T, row-major); with a cache, T new tokens after cache.length. */
  forward(ids: Int32Array, B: number, T: number, cache?: KVCache): Tensor;
  /** Mean next-token cross-entropy (negative targets ignored), without materialising logits. */
  loss(ids: Int32Array, targets: Int32Array, B: number, T: number): Tensor;
  /** Parameters outside the blocks (embeddings, final norm, head): frozen in every setting. */
  trunkParameters(): [string, Parameter][];
  /** Every parameter under its Hugging Face checkpoint name. */
  hfTensors(): TensorToWrite[];
  newCache(): KVCache;
}

// ---------------------------------------------------------------- config.json helpers

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export function configInt(cfg: Record<string, unknown>, key: string, where: string, dflt?: number): number {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw new ConfigError(`${where}: "${key}" must be a positive integer, got ${JSON.stringify(cfg[key])}`);
  }
  return v;
}

export function configNumber(cfg: Record<string, unknown>, key: string, where: string, dflt?: number): number {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ConfigError(`${where}: "${key}" must be a number, got ${JSON.stringify(cfg[key])}`);
  return v;
}

export function configBool(cfg: Record<string, unknown>, key: string, where: string, dflt: boolean): boolean {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'boolean') throw new ConfigError(`${where}: "${key}" must be true or false, got ${JSON.stringify(cfg[key])}`);
  return v;
}

export function configString(cfg: Record<string, unknown>, key: string, where: string, dflt?: string): string {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'string') throw new ConfigError(`${where}: "${key}" must be a string, got ${JSON.stringify(cfg[key])}`);
  return v;
}

/**
 * Loads every parameter of `model` from the checkpoint tensor keyOf(name), remembering the
 * dtype it was stored in (so saving writes it back the same way); returns the keys used.
 */
export function loadParameters(ckpt: Checkpoint, model: Module, keyOf: (name: string) => string, label: string, dtypes: Map<string, 'F32' | 'F16' | 'BF16'>,
  weights: WeightStorage = 'fp32'): Set<string> {
  const used = new Set<string>();
  for (const [name, p] of model.namedParameters()) {
    const key = keyOf(name);
    used.add(key);
    if (!ckpt.has(key)) throw new ConfigError(`${ckpt.dir}: ${label} checkpoint is missing tensor "${key}"`);
    if (weights === 'bf16' && heldInBf16(p)) p.holdInBf16(ckpt.read(key, p.shape));
    else loadInto(ckpt, key, p);
    dtypes.set(name, sourceDType(ckpt, key));
  }
  return used;
}

/**
 * How a loaded model keeps its weights: 'fp32', or 'bf16' = every matrix (linear weights,
 * embedding tables) held as bfloat16 bits for inference (half the memory; products in bf16
 * with float32 accumulation), norms and biases still float32. Such a model can be scored
 * and sampled from, not trained or saved.
 */
export type WeightStorage = 'fp32' | 'bf16';

/** Which parameters bf16 weight storage holds in bf16: the matrices. */
function heldInBf16(p: Parameter): boolean {
  return p.ndim === 2;
}

/** A checkpoint's lm_head.weight must be an exact copy of the embedding it is tied to. */
export function checkTiedHead(ckpt: Checkpoint, embedding: Parameter, embeddingName: string): void {
  let head = ckpt.read('lm_head.weight', embedding.shape);
  // An embedding held in bf16 is compared with the head rounded the same way.
  if (embedding.bf16) head = fromBf16Bits(bf16Bits(head));
  const values = valuesOf(embedding);
  if (head.some((v, i) => v !== values[i])) throw new ConfigError(`${ckpt.dir}: lm_head.weight differs from the tied ${embeddingName}`);
}

/** The parameters as checkpoint tensors under nameOf(name), each in the dtype it was loaded in. */
export function tensorsToWrite(model: Module, dtypes: Map<string, 'F32' | 'F16' | 'BF16'>, nameOf: (name: string) => string = (n) => n): TensorToWrite[] {
  return model.namedParameters().map(([name, p]) => ({ name: nameOf(name), dtype: dtypes.get(name) ?? 'F32', shape: p.shape, data: p.data as Float32Array }));
}

/**
 * Tensors to save with the trained parameters (given by their data) in float32 whatever the
 * source dtype: rounding them to F16 would erase much of a small update (a merged LoRA delta
 * is often below F16's resolution relative to the weight). The others keep their own dtype.
 */
export function trainedInFloat32(tensors: TensorToWrite[], trained: Iterable<Parameter>): TensorToWrite[] {
  const data = new Set([...trained].map((p) => p.data));
  return tensors.map((t) => (data.has(t.data) ? { ...t, dtype: 'F32' as const } : t));
}

/** Copies a checkpoint tensor into a parameter after checking its shape. */
export function loadInto(ckpt: Checkpoint, name: string, p: Parameter): void {
  p.data.set(ckpt.read(name, p.shape));
}

/** The dtype a tensor had in the checkpoint (so saving writes it back the same way). */
export function sourceDType(ckpt: Checkpoint | null, name: string): 'F32' | 'F16' | 'BF16' {
  if (!ckpt || !ckpt.has(name)) return 'F32';
  const d = ckpt.info(name).dtype;
  return d === 'F16' || d === 'BF16' ? d : 'F32';
}
