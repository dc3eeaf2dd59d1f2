// LLaMA, following Hugging Face's modeling_llama.py: RMSNorm pre-norm blocks, rotary
// position embeddings in the rotate-half convention with rope_theta, grouped-query
// attention (num_key_value_heads), a SwiGLU MLP (down(silu(gate(x)) * up(x))), and a
// head that is untied by default (tie_word_embeddings).
import { Tensor } from '../tensor/tensor.js';
import { add, mul } from '../tensor/ops/arithmetic.js';
import { reshape, permute } from '../tensor/ops/shape.js';
import { matmul } from '../tensor/ops/matmul.js';
import { silu } from '../tensor/ops/activation.js';
import { causalAttention, rope, rotaryTables } from '../tensor/ops/attention.js';
import { linearCrossEntropy } from '../tensor/ops/loss.js';
import { Module, ModuleList, Parameter } from '../nn/module.js';
import { Embedding, Linear, RMSNorm } from '../nn/layers.js';
import { Rng } from '../util/rng.js';
import type { Checkpoint } from '../io/checkpoint.js';
import type { TensorToWrite } from '../io/safetensors.js';
import {
  ArchitectureSpec, Block, BlockContext, runBlocks, CausalLM, ConfigError, KVCache, LayerKV, NO_CACHE, configBool, configInt, configNumber, configString, loadParameters, type WeightStorage, tensorsToWrite, trunkOf,
} from './causal_lm.js';

export interface LlamaConfig {
  vocabSize: number; // 32000 for LLaMA-1/2
  hiddenSize: number; // 4096 for 7B
  intermediateSize: number; // 11008 for 7B
  numLayers: number; // 32
  numHeads: number; // 32
  numKeyValueHeads: number; // = numHeads without GQA
  headDim: number; // hiddenSize / numHeads unless head_dim says otherwise
  maxPositions: number; // 2048 (LLaMA-1), 4096 (LLaMA-2)
  rmsNormEps: number; // 1e-6 (LLaMA-1), 1e-5 (LLaMA-2)
  ropeTheta: number; // 10000
  tieWordEmbeddings: boolean; // false
  attentionBias: boolean; // false
  mlpBias: boolean; // false
}

export function llamaConfigFromHF(cfg: Record<string, unknown>, where = 'config.json'): LlamaConfig {
  const hiddenSize = configInt(cfg, 'hidden_size', where);
  const numHeads = configInt(cfg, 'num_attention_heads', where);
  const numKeyValueHeads = configInt(cfg, 'num_key_value_heads', where, numHeads);
  if (numHeads % numKeyValueHeads !== 0) {
    throw new ConfigError(`${where}: "num_attention_heads" ${numHeads} is not a multiple of "num_key_value_heads" ${numKeyValueHeads}`);
  }
  const headDim = cfg.head_dim == null ? hiddenSize / numHeads : configInt(cfg, 'head_dim', where);
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) throw new ConfigError(`${where}: head dimension ${headDim} must be an even integer`);
  if (cfg.rope_scaling != null) throw new ConfigError(`${where}: "rope_scaling" ${JSON.stringify(cfg.rope_scaling)} is not supported`);
  const act = configString(cfg, 'hidden_act', where, 'silu');
  if (act !== 'silu') throw new ConfigError(`${where}: LLaMA "hidden_act" ${JSON.stringify(act)} is not supported (silu)`);
  return {
    vocabSize: configInt(cfg, 'vocab_size', where),
    hiddenSize,
    intermediateSize: configInt(cfg, 'intermediate_size', where),
    numLayers: configInt(cfg, 'num_hidden_layers', where),
    numHeads,
    numKeyValueHeads,
    headDim,
    maxPositions: configInt(cfg, 'max_position_embeddings', where),
    rmsNormEps: configNumber(cfg, 'rms_norm_eps', where, 1e-6),
    ropeTheta: configNumber(cfg, 'rope_theta', where, 10000),
    tieWordEmbeddings: configBool(cfg, 'tie_word_embeddings', where, false),
    attentionBias: configBool(cfg, 'attention_bias', where, false),
    mlpBias: configBool(cfg, 'mlp_bias', where, false),
  };
}

export function llamaConfigToHF(c: LlamaConfig): Record<string, unknown> {
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKeyValueHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.maxPositions,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    hidden_act: 'silu',
    tie_word_embeddings: c.tieWordEmbeddings,
    attention_bias: c.attentionBias,
    mlp_bias: c.mlpBias,
    bos_token_id: 1,
    eos_token_id: 2,
    torch_dtype: 'float32',
  };
}

export class LlamaAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;

  constructor(private readonly cfg: LlamaConfig, rng: Rng, init: boolean) {
    super();
    const C = cfg.hiddenSize, hd = cfg.headDim, bias = cfg.attentionBias;
    this.q_proj = new Linear(C, cfg.numHeads * hd, { bias, rng, init, std: 0.02 });
    this.k_proj = new Linear(C, cfg.numKeyValueHeads * hd, { bias, rng, init, std: 0.02 });
    this.v_proj = new Linear(C, cfg.numKeyValueHeads * hd, { bias, rng, init, std: 0.02 });
    this.o_proj = new Linear(cfg.numHeads * hd, C, { bias, rng, init, std: 0.02 });
  }

  forward(x: Tensor, positionOffset: number, cache?: LayerKV): Tensor {
    const [B, T] = x.shape;
    const { numHeads: H, numKeyValueHeads: Hkv, headDim: hd } = this.cfg;
    const heads = (t: Tensor, n: number) => permute(reshape(t, [B, T, n, hd]), [0, 2, 1, 3]); // (B, n, T, hd)
    const tables = rotaryTables(T, hd, this.cfg.ropeTheta, positionOffset, x.dtype);
    const q = rope(heads(this.q_proj.forward(x), H), tables);
    let k = rope(heads(this.k_proj.forward(x), Hkv), tables);
    let v = heads(this.v_proj.forward(x), Hkv);
    if (cache) ({ k, v } = cache.append(k, v));
    const y = causalAttention(q, k, v); // (B, H, T, hd), grouped heads read their KV head
    return this.o_proj.forward(reshape(permute(y, [0, 2, 1, 3]), [B, T, H * hd]));
  }
}

export class LlamaMLP extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(cfg: LlamaConfig, rng: Rng, init: boolean) {
    super();
    const bias = cfg.mlpBias;
    this.gate_proj = new Linear(cfg.hiddenSize, cfg.intermediateSize, { bias, rng, init, std: 0.02 });
    this.up_proj = new Linear(cfg.hiddenSize, cfg.intermediateSize, { bias, rng, init, std: 0.02 });
    this.down_proj = new Linear(cfg.intermediateSize, cfg.hiddenSize, { bias, rng, init, std: 0.02 });
  }

  forward(x: Tensor): Tensor {
    return this.down_proj.forward(mul(silu(this.gate_proj.forward(x)), this.up_proj.forward(x)));
  }
}

export class LlamaDecoderLayer extends Module {
  readonly self_attn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly input_layernorm: RMSNorm;
  readonly post_attention_layernorm: RMSNorm;

  constructor(cfg: LlamaConfig, rng: Rng, init: boolean) {
    super();
    this.self_attn = new LlamaAttention(cfg, rng, init);
    this.mlp = new LlamaMLP(cfg, rng, init);
    this.input_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
    this.post_attention_layernorm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }

  forward(x: Tensor, ctx: BlockContext = NO_CACHE): Tensor {
    const h = add(x, this.self_attn.forward(this.input_layernorm.forward(x), ctx.positionOffset, ctx.cache));
    return add(h, this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

class LlamaModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<Block>;
  readonly norm: RMSNorm;

  constructor(readonly cfg: LlamaConfig, rng: Rng, init: boolean) {
    super();
    this.embed_tokens = new Embedding(cfg.vocabSize, cfg.hiddenSize, { std: 0.02, rng, init });
    this.layers = new ModuleList<Block>(Array.from({ length: cfg.numLayers }, () => new LlamaDecoderLayer(cfg, rng, init)));
    this.norm = new RMSNorm(cfg.hiddenSize, cfg.rmsNormEps);
  }

  forward(ids: Int32Array, B: number, T: number, cache?: KVCache): Tensor {
    const past = cache?.length ?? 0;
    if (past + T > this.cfg.maxPositions) throw new RangeError(`LLaMA: ${past + T} positions exceed max_position_embeddings ${this.cfg.maxPositions}`);
    let x = this.embed_tokens.forward(ids, [B, T]); // (B, T, C)
    x = runBlocks(this.layers, x, past, cache);
    if (cache) cache.length += T;
    return this.norm.forward(x);
  }
}

/** The HF name of a parameter: the untied head (our field lm_head) is "lm_head.weight". */
function llamaHfName(name: string): string {
  return name === 'lm_head' ? 'lm_head.weight' : name;
}

/** LLaMA's layout: blocks under "model.layers.", q/k/v/o with grouped-query shapes, a SwiGLU FFN. */
export function llamaSpec(c: LlamaConfig): ArchitectureSpec {
  const C = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKeyValueHeads * c.headDim, I = c.intermediateSize;
  return {
    architecture: 'llama',
    hiddenSize: C,
    numBlocks: c.numLayers,
    blocksPrefix: 'model.layers.',
    attentionLinears: [
      { path: 'self_attn.q_proj', in: C, out: q }, { path: 'self_attn.k_proj', in: C, out: kv },
      { path: 'self_attn.v_proj', in: C, out: kv }, { path: 'self_attn.o_proj', in: q, out: C },
    ],
    ffnLinears: [{ path: 'mlp.gate_proj', in: C, out: I }, { path: 'mlp.up_proj', in: C, out: I }, { path: 'mlp.down_proj', in: I, out: C }],
    linearLayout: 'out_in',
    hfName: llamaHfName,
  };
}

export class LlamaForCausalLM extends Module implements CausalLM {
  readonly architecture = 'llama' as const;
  readonly spec: ArchitectureSpec;
  readonly model: LlamaModel;
  /** (V, C); the embedding itself when tie_word_embeddings is set. */
  readonly lm_head: Parameter;
  readonly hfConfig: Record<string, unknown>;
  private readonly dtypes = new Map<string, 'F32' | 'F16' | 'BF16'>();

  constructor(readonly config: LlamaConfig, seed = 0, opts: { init?: boolean; hfConfig?: Record<string, unknown> } = {}) {
    super();
    const rng = new Rng(seed);
    this.model = new LlamaModel(config, rng, opts.init ?? true);
    if (config.tieWordEmbeddings) this.lm_head = this.model.embed_tokens.weight;
    else {
      this.lm_head = Parameter.zeros([config.vocabSize, config.hiddenSize]);
      if (opts.init ?? true) for (let i = 0; i < this.lm_head.size; i++) this.lm_head.data[i] = rng.normal() * 0.02;
    }
    this.hfConfig = opts.hfConfig ?? llamaConfigToHF(config);
    this.spec = llamaSpec(config);
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get maxContext(): number {
    return this.config.maxPositions;
  }

  get blocks(): ModuleList<Block> {
    return this.model.layers;
  }

  static fromCheckpoint(ckpt: Checkpoint, weights: WeightStorage = 'fp32'): LlamaForCausalLM {
    const model = new LlamaForCausalLM(llamaConfigFromHF(ckpt.config, `${ckpt.dir}/config.json`), 0, { init: false, hfConfig: ckpt.config });
    const expected = loadParameters(ckpt, model, llamaHfName, 'LLaMA', model.dtypes, weights);
    for (const key of ckpt.names()) {
      if (expected.has(key)) continue;
      if (/\.rotary_emb\.inv_freq$/.test(key)) continue; // a buffer some checkpoints carry
      if (key === 'lm_head.weight' && model.config.tieWordEmbeddings) continue;
      throw new ConfigError(`${ckpt.dir}: unexpected tensor "${key}" in a LLaMA checkpoint`);
    }
    return model;
  }

  hfTensors(): TensorToWrite[] {
    return tensorsToWrite(this, this.dtypes, llamaHfName);
  }

  trunkParameters(): [string, Parameter][] {
    return trunkOf(this.spec, this.namedParameters());
  }

  newCache(): KVCache {
    return new KVCache(this.config.numLayers);
  }

  forward(ids: Int32Array, B: number, T: number, cache?: KVCache): Tensor {
    return matmul(this.model.forward(ids, B, T, cache), this.lm_head, { transB: true });
  }

  loss(ids: Int32Array, targets: Int32Array, B: number, T: number): Tensor {
    return linearCrossEntropy(this.model.forward(ids, B, T), this.lm_head, targets);
  }
}
