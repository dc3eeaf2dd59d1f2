// GPT-2, following Hugging Face's modeling_gpt2.py: pre-LN blocks, fused c_attn, Conv1D
// weights stored (in, out), gelu_new MLP, learned positions, final ln_f and a head tied to
// the token embedding. Parameter names match the HF state dict ("transformer.h.0.attn.
// c_attn.weight"); checkpoints that omit the "transformer." prefix load too.
import { Tensor } from '../tensor/tensor.js';
import { add } from '../tensor/ops/arithmetic.js';
import { reshape, permute, slice } from '../tensor/ops/shape.js';
import { matmul } from '../tensor/ops/matmul.js';
import { gelu } from '../tensor/ops/activation.js';
import { causalAttention, fusedQKVAttention } from '../tensor/ops/attention.js';
import { linearCrossEntropy } from '../tensor/ops/loss.js';
import { Module, ModuleList, Parameter } from '../nn/module.js';
import { Dropout, Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Rng } from '../util/rng.js';
import type { Checkpoint } from '../io/checkpoint.js';
import type { TensorToWrite } from '../io/safetensors.js';
import {
  ArchitectureSpec, Block, BlockContext, runBlocks, CausalLM, ConfigError, KVCache, LayerKV, NO_CACHE, configBool, configInt, configNumber, configString, loadParameters, type WeightStorage, checkTiedHead, tensorsToWrite, trunkOf,
} from './causal_lm.js';

export interface GPT2Config {
  vocabSize: number; // 50257 for the released models
  nPositions: number; // maximum context, 1024
  nEmbd: number; // d_model, 768 for gpt2 (small)
  nLayer: number; // number of blocks, 12
  nHead: number; // attention heads, 12
  nInner?: number; // MLP width; default 4 * nEmbd
  layerNormEpsilon?: number; // 1e-5
  residDropout?: number; // resid_pdrop, 0.1 in the released config; 0 disables
  embdDropout?: number; // embd_pdrop
  attnDropout?: number; // attn_pdrop; the fused kernel has no attention dropout, so it must be 0
  initializerRange?: number; // 0.02
}

function withDefaults(c: GPT2Config): Required<GPT2Config> {
  return {
    nInner: 4 * c.nEmbd,
    layerNormEpsilon: 1e-5,
    residDropout: 0,
    embdDropout: 0,
    attnDropout: 0,
    initializerRange: 0.02,
    ...c,
  };
}

/** Reads a Hugging Face GPT-2 config.json object. */
export function gpt2ConfigFromHF(cfg: Record<string, unknown>, where = 'config.json'): GPT2Config {
  const act = configString(cfg, 'activation_function', where, 'gelu_new');
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
    throw new ConfigError(`${where}: GPT-2 "activation_function" ${JSON.stringify(act)} is not supported (gelu_new only)`);
  }
  if (!configBool(cfg, 'tie_word_embeddings', where, true)) throw new ConfigError(`${where}: GPT-2 with an untied head is not supported`);
  if (configBool(cfg, 'scale_attn_by_inverse_layer_idx', where, false) || configBool(cfg, 'reorder_and_upcast_attn', where, false)) {
    throw new ConfigError(`${where}: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported`);
  }
  const nEmbd = configInt(cfg, 'n_embd', where);
  const nHead = configInt(cfg, 'n_head', where);
  if (nEmbd % nHead !== 0) throw new ConfigError(`${where}: "n_embd" ${nEmbd} is not divisible by "n_head" ${nHead}`);
  return {
    vocabSize: configInt(cfg, 'vocab_size', where),
    nPositions: configInt(cfg, 'n_positions', where, typeof cfg.n_ctx === 'number' ? cfg.n_ctx : undefined),
    nEmbd,
    nLayer: configInt(cfg, 'n_layer', where),
    nHead,
    nInner: cfg.n_inner == null ? 4 * nEmbd : configInt(cfg, 'n_inner', where),
    layerNormEpsilon: configNumber(cfg, 'layer_norm_epsilon', where, 1e-5),
    // Dropout is a training-time choice: off unless asked for.
    residDropout: 0,
    embdDropout: 0,
    attnDropout: 0,
    initializerRange: configNumber(cfg, 'initializer_range', where, 0.02),
  };
}

export function gpt2ConfigToHF(c: Required<GPT2Config>): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    n_inner: c.nInner,
    activation_function: 'gelu_new',
    layer_norm_epsilon: c.layerNormEpsilon,
    initializer_range: c.initializerRange,
    resid_pdrop: c.residDropout,
    embd_pdrop: c.embdDropout,
    attn_pdrop: c.attnDropout,
    bos_token_id: c.vocabSize - 1,
    eos_token_id: c.vocabSize - 1,
    tie_word_embeddings: true,
    torch_dtype: 'float32',
  };
}

export class GPT2Attention extends Module {
  readonly c_attn: Linear; // (C, 3C): q, k, v fused
  readonly c_proj: Linear; // (C, C)
  readonly resid_dropout: Dropout;

  constructor(private readonly cfg: Required<GPT2Config>, rng: Rng, init: boolean) {
    super();
    const C = cfg.nEmbd;
    const std = cfg.initializerRange;
    this.c_attn = new Linear(C, 3 * C, { layout: 'in_out', std, rng, init });
    // GPT-2 scales residual projections by 1/sqrt(2 * n_layer) at init.
    this.c_proj = new Linear(C, C, { layout: 'in_out', std: std / Math.sqrt(2 * cfg.nLayer), rng, init });
    this.resid_dropout = new Dropout(cfg.residDropout, rng);
    if (cfg.attnDropout !== 0) throw new Error('GPT2Attention: attention-probability dropout is not supported (set attnDropout to 0)');
  }

  forward(x: Tensor, cache?: LayerKV): Tensor {
    const qkv = this.c_attn.forward(x); // (B, T, 3C): q | k | v, each split into nHead heads
    if (!cache) {
      // Heads are read from qkv and merged back into (B, T, C) through strides, no copies.
      return this.resid_dropout.forward(this.c_proj.forward(fusedQKVAttention(qkv, this.cfg.nHead)));
    }
    const [B, T, C3] = qkv.shape;
    const C = C3 / 3, H = this.cfg.nHead, hs = C / H;
    const head = (i: number) => permute(reshape(slice(qkv, 2, i * C, (i + 1) * C), [B, T, H, hs]), [0, 2, 1, 3]); // (B, H, T, hs)
    const { k, v } = cache.append(head(1), head(2)); // (B, H, T_past + T, hs)
    const y = causalAttention(head(0), k, v); // (B, H, T, hs)
    return this.resid_dropout.forward(this.c_proj.forward(reshape(permute(y, [0, 2, 1, 3]), [B, T, C])));
  }
}

export class GPT2MLP extends Module {
  readonly c_fc: Linear; // (C, 4C)
  readonly c_proj: Linear; // (4C, C)
  readonly dropout: Dropout;

  constructor(cfg: Required<GPT2Config>, rng: Rng, init: boolean) {
    super();
    const std = cfg.initializerRange;
    this.c_fc = new Linear(cfg.nEmbd, cfg.nInner, { layout: 'in_out', std, rng, init });
    this.c_proj = new Linear(cfg.nInner, cfg.nEmbd, { layout: 'in_out', std: std / Math.sqrt(2 * cfg.nLayer), rng, init });
    this.dropout = new Dropout(cfg.residDropout, rng);
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(this.c_proj.forward(gelu(this.c_fc.forward(x))));
  }
}

/** One transformer block: the unit that offsite-tuning keeps, drops or replaces. */
export class GPT2Block extends Module {
  readonly ln_1: LayerNorm;
  readonly attn: GPT2Attention;
  readonly ln_2: LayerNorm;
  readonly mlp: GPT2MLP;

  constructor(cfg: Required<GPT2Config>, rng: Rng, init = true) {
    super();
    this.ln_1 = new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon);
    this.attn = new GPT2Attention(cfg, rng, init);
    this.ln_2 = new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon);
    this.mlp = new GPT2MLP(cfg, rng, init);
  }

  forward(x: Tensor, ctx: BlockContext = NO_CACHE): Tensor {
    const h = add(x, this.attn.forward(this.ln_1.forward(x), ctx.cache)); // (B, T, C)
    return add(h, this.mlp.forward(this.ln_2.forward(h)));
  }
}

/** The trunk (wte, wpe, ln_f) around the list of blocks `h`. */
export class GPT2Model extends Module {
  readonly wte: Embedding; // (V, C)
  readonly wpe: Embedding; // (nPositions, C)
  readonly drop: Dropout;
  readonly h: ModuleList<Block>;
  readonly ln_f: LayerNorm;

  constructor(readonly config: Required<GPT2Config>, rng: Rng, init = true) {
    super();
    this.wte = new Embedding(config.vocabSize, config.nEmbd, { std: config.initializerRange, rng, init });
    this.wpe = new Embedding(config.nPositions, config.nEmbd, { std: config.initializerRange, rng, init });
    this.drop = new Dropout(config.embdDropout, rng);
    this.h = new ModuleList<Block>(Array.from({ length: config.nLayer }, () => new GPT2Block(config, rng, init)));
    this.ln_f = new LayerNorm(config.nEmbd, config.layerNormEpsilon);
  }

  /** ids: (B, T) row-major token ids -> hidden states (B, T, C) after ln_f. */
  forward(ids: Int32Array, B: number, T: number, cache?: KVCache): Tensor {
    const past = cache?.length ?? 0;
    if (past + T > this.config.nPositions) {
      throw new RangeError(`GPT-2: ${past + T} positions exceed n_positions ${this.config.nPositions}`);
    }
    const pos = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = past + t;
    let x = add(this.wte.forward(ids, [B, T]), this.wpe.forward(pos, [B, T])); // (B, T, C)
    x = this.drop.forward(x);
    x = runBlocks(this.h, x, past, cache);
    if (cache) cache.length += T;
    return this.ln_f.forward(x);
  }
}

/**
 * GPT-2's layout for offsite tuning and PEFT: blocks under "transformer.h.", the fused
 * c_attn counted as one attention matrix, and Conv1D weights stored (in, out).
 */
export function gpt2Spec(c: GPT2Config): ArchitectureSpec {
  const C = c.nEmbd, I = c.nInner ?? 4 * C;
  return {
    architecture: 'gpt2',
    hiddenSize: C,
    numBlocks: c.nLayer,
    blocksPrefix: 'transformer.h.',
    attentionLinears: [{ path: 'attn.c_attn', in: C, out: 3 * C }, { path: 'attn.c_proj', in: C, out: C }],
    ffnLinears: [{ path: 'mlp.c_fc', in: C, out: I }, { path: 'mlp.c_proj', in: I, out: C }],
    linearLayout: 'in_out',
    hfName: (name) => name,
  };
}

export class GPT2LMHeadModel extends Module implements CausalLM {
  readonly architecture = 'gpt2' as const;
  readonly spec: ArchitectureSpec;
  readonly transformer: GPT2Model;
  readonly config: Required<GPT2Config>;
  readonly hfConfig: Record<string, unknown>;
  private readonly dtypes = new Map<string, 'F32' | 'F16' | 'BF16'>();

  constructor(config: GPT2Config, seed = 0, opts: { init?: boolean; hfConfig?: Record<string, unknown> } = {}) {
    super();
    this.config = withDefaults(config);
    if (this.config.nEmbd % this.config.nHead !== 0) {
      throw new RangeError(`GPT-2 config: n_embd ${this.config.nEmbd} is not divisible by n_head ${this.config.nHead}`);
    }
    this.transformer = new GPT2Model(this.config, new Rng(seed), opts.init ?? true);
    this.spec = gpt2Spec(this.config);
    this.hfConfig = opts.hfConfig ?? gpt2ConfigToHF(this.config);
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get maxContext(): number {
    return this.config.nPositions;
  }

  get blocks(): ModuleList<Block> {
    return this.transformer.h;
  }

  static fromCheckpoint(ckpt: Checkpoint, weights: WeightStorage = 'fp32'): GPT2LMHeadModel {
    const where = `${ckpt.dir}/config.json`;
    const model = new GPT2LMHeadModel(gpt2ConfigFromHF(ckpt.config, where), 0, { init: false, hfConfig: ckpt.config });
    // Checkpoints name tensors with or without the "transformer." prefix.
    const prefixed = ckpt.has('transformer.wte.weight');
    const expected = loadParameters(ckpt, model, (name) => (prefixed ? name : name.replace(/^transformer\./, '')), 'GPT-2', model.dtypes, weights);
    for (const key of ckpt.names()) {
      if (expected.has(key)) continue;
      // Causal-mask buffers of older checkpoints carry no weights.
      if (/\.attn\.(masked_)?bias$/.test(key)) continue;
      if (key === 'lm_head.weight') {
        checkTiedHead(ckpt, model.transformer.wte.weight, 'token embedding');
        continue;
      }
      throw new ConfigError(`${ckpt.dir}: unexpected tensor "${key}" in a GPT-2 checkpoint`);
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
    return new KVCache(this.config.nLayer);
  }

  /** Logits (B, T, V): the head is tied to wte, so logits = h wteᵀ. */
  forward(ids: Int32Array, B: number, T: number, cache?: KVCache): Tensor {
    const h = this.transformer.forward(ids, B, T, cache);
    return matmul(h, this.transformer.wte.weight, { transB: true });
  }

  /**
   * Mean next-token cross-entropy of targets (B*T ids; negative ids are ignored), through
   * the fused head + loss so the (B*T, V) logits are never materialised.
   */
  loss(ids: Int32Array, targets: Int32Array, B: number, T: number): Tensor {
    const h = this.transformer.forward(ids, B, T); // (B, T, C)
    return linearCrossEntropy(h, this.transformer.wte.weight, targets);
  }
}
