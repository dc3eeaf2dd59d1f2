// GPT-2, following Hugging Face's modeling_gpt2.py: pre-LN blocks, fused c_attn, Conv1D
// weights stored (in, out), gelu_new MLP, learned positions, final ln_f and a head tied to
// the token embedding. Parameter names match the HF state dict ("transformer.h.0.attn.
// c_attn.weight"), so checkpoints load without renaming.
import { Tensor } from '../tensor/tensor.js';
import { add } from '../tensor/ops/arithmetic.js';
import { matmul } from '../tensor/ops/matmul.js';
import { gelu } from '../tensor/ops/activation.js';
import { fusedQKVAttention } from '../tensor/ops/attention.js';
import { linearCrossEntropy } from '../tensor/ops/loss.js';
import { Module, ModuleList } from '../nn/module.js';
import { Dropout, Embedding, LayerNorm, Linear } from '../nn/layers.js';
import { Rng } from '../util/rng.js';

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

export class GPT2Attention extends Module {
  readonly c_attn: Linear; // (C, 3C): q, k, v fused
  readonly c_proj: Linear; // (C, C)
  readonly resid_dropout: Dropout;

  constructor(private readonly cfg: Required<GPT2Config>, rng: Rng) {
    super();
    const C = cfg.nEmbd;
    const std = cfg.initializerRange;
    this.c_attn = new Linear(C, 3 * C, { layout: 'in_out', std, rng });
    // GPT-2 scales residual projections by 1/sqrt(2 * n_layer) at init.
    this.c_proj = new Linear(C, C, { layout: 'in_out', std: std / Math.sqrt(2 * cfg.nLayer), rng });
    this.resid_dropout = new Dropout(cfg.residDropout, rng);
    if (cfg.attnDropout !== 0) throw new Error('GPT2Attention: attention-probability dropout is not supported (set attnDropout to 0)');
  }

  forward(x: Tensor): Tensor {
    const qkv = this.c_attn.forward(x); // (B, T, 3C): q | k | v, each split into nHead heads
    // Heads are read from qkv and merged back into (B, T, C) through strides, no copies.
    const y = fusedQKVAttention(qkv, this.cfg.nHead); // (B, T, C)
    return this.resid_dropout.forward(this.c_proj.forward(y));
  }
}

export class GPT2MLP extends Module {
  readonly c_fc: Linear; // (C, 4C)
  readonly c_proj: Linear; // (4C, C)
  readonly dropout: Dropout;

  constructor(cfg: Required<GPT2Config>, rng: Rng) {
    super();
    const std = cfg.initializerRange;
    this.c_fc = new Linear(cfg.nEmbd, cfg.nInner, { layout: 'in_out', std, rng });
    this.c_proj = new Linear(cfg.nInner, cfg.nEmbd, { layout: 'in_out', std: std / Math.sqrt(2 * cfg.nLayer), rng });
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

  constructor(cfg: Required<GPT2Config>, rng: Rng) {
    super();
    this.ln_1 = new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon);
    this.attn = new GPT2Attention(cfg, rng);
    this.ln_2 = new LayerNorm(cfg.nEmbd, cfg.layerNormEpsilon);
    this.mlp = new GPT2MLP(cfg, rng);
  }

  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.ln_1.forward(x))); // (B, T, C)
    return add(h, this.mlp.forward(this.ln_2.forward(h)));
  }
}

/** The trunk (wte, wpe, ln_f) around the list of blocks `h`. */
export class GPT2Model extends Module {
  readonly wte: Embedding; // (V, C)
  readonly wpe: Embedding; // (nPositions, C)
  readonly drop: Dropout;
  readonly h: ModuleList<GPT2Block>;
  readonly ln_f: LayerNorm;

  constructor(readonly config: Required<GPT2Config>, rng: Rng) {
    super();
    this.wte = new Embedding(config.vocabSize, config.nEmbd, { std: config.initializerRange, rng });
    this.wpe = new Embedding(config.nPositions, config.nEmbd, { std: config.initializerRange, rng });
    this.drop = new Dropout(config.embdDropout, rng);
    this.h = new ModuleList(Array.from({ length: config.nLayer }, () => new GPT2Block(config, rng)));
    this.ln_f = new LayerNorm(config.nEmbd, config.layerNormEpsilon);
  }

  /** ids: (B, T) row-major token ids -> hidden states (B, T, C) after ln_f. */
  forward(ids: Int32Array, B: number, T: number): Tensor {
    if (T > this.config.nPositions) throw new RangeError(`GPT-2: sequence of ${T} tokens exceeds n_positions ${this.config.nPositions}`);
    const pos = new Int32Array(B * T);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) pos[b * T + t] = t;
    let x = add(this.wte.forward(ids, [B, T]), this.wpe.forward(pos, [B, T])); // (B, T, C)
    x = this.drop.forward(x);
    for (const block of this.h) x = block.forward(x);
    return this.ln_f.forward(x);
  }
}

export class GPT2LMHeadModel extends Module {
  readonly transformer: GPT2Model;
  readonly config: Required<GPT2Config>;

  constructor(config: GPT2Config, seed = 0) {
    super();
    this.config = withDefaults(config);
    if (this.config.nEmbd % this.config.nHead !== 0) {
      throw new RangeError(`GPT-2 config: n_embd ${this.config.nEmbd} is not divisible by n_head ${this.config.nHead}`);
    }
    this.transformer = new GPT2Model(this.config, new Rng(seed));
  }

  /** Logits (B, T, V): the head is tied to wte, so logits = h wteᵀ. */
  forward(ids: Int32Array, B: number, T: number): Tensor {
    const h = this.transformer.forward(ids, B, T);
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

