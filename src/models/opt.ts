// OPT, following Hugging Face's modeling_opt.py: learned positions with an offset of 2,
// pre-LN or post-LN blocks (do_layer_norm_before), separate q/k/v/out projections with q
// scaled by head_dim^-0.5 before the product, a ReLU FFN, optional project_in/out when
// word_embed_proj_dim differs from hidden_size, and a head tied to embed_tokens.
import { Tensor } from '../tensor/tensor.js';
import { add, mulScalar } from '../tensor/ops/arithmetic.js';
import { reshape, permute } from '../tensor/ops/shape.js';
import { matmul } from '../tensor/ops/matmul.js';
import { relu, gelu } from '../tensor/ops/activation.js';
import { causalAttention } from '../tensor/ops/attention.js';
import { linearCrossEntropy } from '../tensor/ops/loss.js';
import { Module, ModuleList, Parameter } from '../nn/module.js';
import { Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Rng } from '../util/rng.js';
import type { Checkpoint } from '../io/checkpoint.js';
import type { TensorToWrite } from '../io/safetensors.js';
import {
  ArchitectureSpec, Block, BlockContext, runBlocks, CausalLM, ConfigError, KVCache, LayerKV, NO_CACHE, configBool, configInt, configString, loadParameters, type WeightStorage, checkTiedHead, tensorsToWrite, trunkOf,
} from './causal_lm.js';

export interface OPTConfig {
  vocabSize: number; // 50272
  hiddenSize: number; // 768 for opt-125m
  numLayers: number;
  numHeads: number;
  ffnDim: number; // 3072 for opt-125m
  maxPositions: number; // 2048
  wordEmbedProjDim: number; // = hiddenSize except opt-350m (512)
  doLayerNormBefore: boolean; // false only for opt-350m
  enableBias: boolean; // true
  layerNormAffine: boolean; // layer_norm_elementwise_affine, true
  removeFinalLayerNorm: boolean; // _remove_final_layer_norm, false
  activation: 'relu' | 'gelu';
}

/** OPT's learned positions are looked up at position + 2 (OPTLearnedPositionalEmbedding). */
const POSITION_OFFSET = 2;

export function optConfigFromHF(cfg: Record<string, unknown>, where = 'config.json'): OPTConfig {
  const hiddenSize = configInt(cfg, 'hidden_size', where);
  const numHeads = configInt(cfg, 'num_attention_heads', where);
  if (hiddenSize % numHeads !== 0) throw new ConfigError(`${where}: "hidden_size" ${hiddenSize} is not divisible by "num_attention_heads" ${numHeads}`);
  const act = configString(cfg, 'activation_function', where, 'relu');
  if (act !== 'relu' && act !== 'gelu') throw new ConfigError(`${where}: OPT "activation_function" ${JSON.stringify(act)} is not supported (relu, gelu)`);
  return {
    vocabSize: configInt(cfg, 'vocab_size', where),
    hiddenSize,
    numLayers: configInt(cfg, 'num_hidden_layers', where),
    numHeads,
    ffnDim: configInt(cfg, 'ffn_dim', where),
    maxPositions: configInt(cfg, 'max_position_embeddings', where),
    wordEmbedProjDim: configInt(cfg, 'word_embed_proj_dim', where, hiddenSize),
    doLayerNormBefore: configBool(cfg, 'do_layer_norm_before', where, true),
    enableBias: configBool(cfg, 'enable_bias', where, true),
    layerNormAffine: configBool(cfg, 'layer_norm_elementwise_affine', where, true),
    removeFinalLayerNorm: configBool(cfg, '_remove_final_layer_norm', where, false),
    activation: act,
  };
}

export class OPTAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly out_proj: Linear;

  constructor(private readonly cfg: OPTConfig, rng: Rng, init: boolean) {
    super();
    const C = cfg.hiddenSize, bias = cfg.enableBias;
    this.q_proj = new Linear(C, C, { bias, rng, init, std: 0.02 });
    this.k_proj = new Linear(C, C, { bias, rng, init, std: 0.02 });
    this.v_proj = new Linear(C, C, { bias, rng, init, std: 0.02 });
    this.out_proj = new Linear(C, C, { bias, rng, init, std: 0.02 });
  }

  forward(x: Tensor, cache?: LayerKV): Tensor {
    const [B, T, C] = x.shape;
    const H = this.cfg.numHeads, hd = C / H;
    const heads = (t: Tensor) => permute(reshape(t, [B, T, H, hd]), [0, 2, 1, 3]); // (B, H, T, hd)
    // HF scales q by head_dim^-0.5 before q kᵀ; the kernel then multiplies by 1.
    const q = heads(mulScalar(this.q_proj.forward(x), Math.pow(hd, -0.5)));
    let k = heads(this.k_proj.forward(x));
    let v = heads(this.v_proj.forward(x));
    if (cache) ({ k, v } = cache.append(k, v));
    const y = causalAttention(q, k, v, { scale: 1 }); // (B, H, T, hd)
    return this.out_proj.forward(reshape(permute(y, [0, 2, 1, 3]), [B, T, C]));
  }
}

export class OPTDecoderLayer extends Module {
  readonly self_attn: OPTAttention;
  readonly self_attn_layer_norm: LayerNorm;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly final_layer_norm: LayerNorm;

  constructor(private readonly cfg: OPTConfig, rng: Rng, init: boolean) {
    super();
    const C = cfg.hiddenSize;
    this.self_attn = new OPTAttention(cfg, rng, init);
    this.self_attn_layer_norm = new LayerNorm(C, 1e-5, { affine: cfg.layerNormAffine });
    this.fc1 = new Linear(C, cfg.ffnDim, { bias: cfg.enableBias, rng, init, std: 0.02 });
    this.fc2 = new Linear(cfg.ffnDim, C, { bias: cfg.enableBias, rng, init, std: 0.02 });
    this.final_layer_norm = new LayerNorm(C, 1e-5, { affine: cfg.layerNormAffine });
  }

  forward(x: Tensor, ctx: BlockContext = NO_CACHE): Tensor {
    const pre = this.cfg.doLayerNormBefore;
    let h = pre ? this.self_attn_layer_norm.forward(x) : x;
    h = add(x, this.self_attn.forward(h, ctx.cache));
    if (!pre) h = this.self_attn_layer_norm.forward(h);
    const act = this.cfg.activation === 'relu' ? relu : gelu;
    const f = pre ? this.final_layer_norm.forward(h) : h;
    let out = add(h, this.fc2.forward(act(this.fc1.forward(f))));
    if (!pre) out = this.final_layer_norm.forward(out);
    return out;
  }
}

export class OPTDecoder extends Module {
  readonly embed_tokens: Embedding; // (V, word_embed_proj_dim)
  readonly embed_positions: Embedding; // (max_positions + 2, hidden)
  readonly project_in: Linear | null;
  readonly project_out: Linear | null;
  readonly final_layer_norm: LayerNorm | null;
  readonly layers: ModuleList<Block>;

  constructor(readonly cfg: OPTConfig, rng: Rng, init: boolean) {
    super();
    const proj = cfg.wordEmbedProjDim !== cfg.hiddenSize;
    this.embed_tokens = new Embedding(cfg.vocabSize, cfg.wordEmbedProjDim, { std: 0.02, rng, init });
    this.embed_positions = new Embedding(cfg.maxPositions + POSITION_OFFSET, cfg.hiddenSize, { std: 0.02, rng, init });
    this.project_in = proj ? new Linear(cfg.wordEmbedProjDim, cfg.hiddenSize, { bias: false, rng, init, std: 0.02 }) : null;
    this.project_out = proj ? new Linear(cfg.hiddenSize, cfg.wordEmbedProjDim, { bias: false, rng, init, std: 0.02 }) : null;
    this.final_layer_norm = cfg.doLayerNormBefore && !cfg.removeFinalLayerNorm
      ? new LayerNorm(cfg.hiddenSize, 1e-5, { affine: cfg.layerNormAffine })
      : null;
    this.layers = new ModuleList<Block>(Array.from({ length: cfg.numLayers }, () => new OPTDecoderLayer(cfg, rng, init)));
  }

  /** Hidden states (B, T, word_embed_proj_dim) ready for the tied head. */
  forward(ids: Int32Array, B: number, T: number, cache?: KVCache): Tensor {
    const past = cache?.length ?? 0;
    if (past + T > this.cfg.maxPositions) throw new RangeError(`OPT: ${past + T} positions exceed max_position_embeddings ${this.cfg.maxPositions}`);
    const pos = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = past + t + POSITION_OFFSET;
    let x = this.embed_tokens.forward(ids, [B, T]);
    if (this.project_in) x = this.project_in.forward(x);
    x = add(x, this.embed_positions.forward(pos, [B, T])); // (B, T, C)
    x = runBlocks(this.layers, x, past, cache);
    if (cache) cache.length += T;
    if (this.final_layer_norm) x = this.final_layer_norm.forward(x);
    if (this.project_out) x = this.project_out.forward(x);
    return x;
  }
}

class OPTModel extends Module {
  readonly decoder: OPTDecoder;
  constructor(cfg: OPTConfig, rng: Rng, init: boolean) {
    super();
    this.decoder = new OPTDecoder(cfg, rng, init);
  }
}

/** OPT's layout: blocks under "model.decoder.layers.", separate q/k/v/out, nn.Linear weights. */
export function optSpec(c: OPTConfig): ArchitectureSpec {
  const C = c.hiddenSize;
  return {
    architecture: 'opt',
    hiddenSize: C,
    numBlocks: c.numLayers,
    blocksPrefix: 'model.decoder.layers.',
    attentionLinears: ['q_proj', 'k_proj', 'v_proj', 'out_proj'].map((n) => ({ path: `self_attn.${n}`, in: C, out: C })),
    ffnLinears: [{ path: 'fc1', in: C, out: c.ffnDim }, { path: 'fc2', in: c.ffnDim, out: C }],
    linearLayout: 'out_in',
    hfName: (name) => name,
  };
}

export class OPTForCausalLM extends Module implements CausalLM {
  readonly architecture = 'opt' as const;
  readonly spec: ArchitectureSpec;
  readonly model: OPTModel;
  readonly hfConfig: Record<string, unknown>;
  private readonly dtypes = new Map<string, 'F32' | 'F16' | 'BF16'>();

  constructor(readonly config: OPTConfig, seed = 0, opts: { init?: boolean; hfConfig?: Record<string, unknown> } = {}) {
    super();
    this.model = new OPTModel(config, new Rng(seed), opts.init ?? true);
    this.spec = optSpec(config);
    this.hfConfig = opts.hfConfig ?? optConfigToHF(config);
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get maxContext(): number {
    return this.config.maxPositions;
  }

  get blocks(): ModuleList<Block> {
    return this.model.decoder.layers;
  }

  static fromCheckpoint(ckpt: Checkpoint, weights: WeightStorage = 'fp32'): OPTForCausalLM {
    const model = new OPTForCausalLM(optConfigFromHF(ckpt.config, `${ckpt.dir}/config.json`), 0, { init: false, hfConfig: ckpt.config });
    // facebook/opt-* checkpoints sometimes drop the "model." prefix.
    const strip = !ckpt.has('model.decoder.embed_tokens.weight') && ckpt.has('decoder.embed_tokens.weight');
    const keyOf = (name: string) => (strip ? name.replace(/^model\./, '') : name);
    const expected = loadParameters(ckpt, model, keyOf, 'OPT', model.dtypes, weights);
    for (const key of ckpt.names()) {
      if (expected.has(key)) continue;
      if (key === 'lm_head.weight') {
        checkTiedHead(ckpt, model.model.decoder.embed_tokens.weight, 'embed_tokens');
        continue;
      }
      throw new ConfigError(`${ckpt.dir}: unexpected tensor "${key}" in an OPT checkpoint`);
    }
    return model;
  }

  hfTensors(): TensorToWrite[] {
    return tensorsToWrite(this, this.dtypes);
  }

  trunkParameters(): [string, Parameter][] {
    return trunkOf(this.spec, this.namedParameters());
  }

  newCache(): KVCache {
    return new KVCache(this.config.numLayers);
  }

  forward(ids: Int32Array, B: number, T: number, cache?: KVCache): Tensor {
    const h = this.model.decoder.forward(ids, B, T, cache);
    return matmul(h, this.model.decoder.embed_tokens.weight, { transB: true }); // tied lm_head
  }

  loss(ids: Int32Array, targets: Int32Array, B: number, T: number): Tensor {
    return linearCrossEntropy(this.model.decoder.forward(ids, B, T), this.model.decoder.embed_tokens.weight, targets);
  }
}

export function optConfigToHF(c: OPTConfig): Record<string, unknown> {
  return {
    architectures: ['OPTForCausalLM'],
    model_type: 'opt',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    ffn_dim: c.ffnDim,
    max_position_embeddings: c.maxPositions,
    word_embed_proj_dim: c.wordEmbedProjDim,
    do_layer_norm_before: c.doLayerNormBefore,
    enable_bias: c.enableBias,
    layer_norm_elementwise_affine: c.layerNormAffine,
    _remove_final_layer_norm: c.removeFinalLayerNorm,
    activation_function: c.activation,
    pad_token_id: 1,
    bos_token_id: 2,
    eos_token_id: 2,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}
