// Pre-training a GPT-2-architecture base model from scratch on the offline pretraining
// corpus (data/build.ts): a byte-level BPE trained on the same text, random windows of
// the document stream (EOS between documents), AdamW with a cosine schedule, gradient
// clipping, periodic validation on D^V, resumable checkpoints, and a Hugging Face
// checkpoint directory (config.json, model.safetensors, tokenizer.json) as the result.
import { existsSync, mkdirSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../models/gpt2.js';
import { AdamW } from '../optim/adamw.js';
import { cosineWithWarmup } from '../optim/schedule.js';
import { noGrad } from '../tensor/autograd.js';
import { Rng } from '../util/rng.js';
import { trainByteLevelBpe } from '../tokenizer/train_bpe.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { saveCheckpoint, readJsonObject, Checkpoint } from '../io/checkpoint.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { jsonlTokenStream, randomWindows } from '../data/streams.js';
import { trainLoop } from './loop.js';
import type { Progress } from '../util/progress.js';

export interface PretrainConfig {
  name: string;
  vocab_size: number; // BPE vocabulary trained on the corpus (incl. <|endoftext|>)
  n_layer: number; // 16 or 24: four even groups for ScaleOT
  n_embd: number;
  n_head: number;
  n_positions: number; // context length
  batch_size: number;
  steps: number;
  lr: number;
  min_lr: number;
  warmup_steps: number;
  weight_decay: number;
  grad_clip: number;
  eval_every: number;
  checkpoint_every: number;
  eval_batches: number;
  seed: number;
  save_dtype: 'F32' | 'F16' | 'BF16';
  /** 'small' (the data build's pretrain split, default) or 'large' (data/corpus.ts). */
  corpus?: 'small' | 'large';
  /** Matrix products in 'fp32' (default) or 'bf16' (mixed precision, tensor/ops/matmul.ts). */
  precision?: 'fp32' | 'bf16';
}

export function readPretrainConfig(path: string): PretrainConfig {
  const c = readJsonObject(path) as Record<string, unknown>;
  const need = (k: keyof PretrainConfig, type: 'number' | 'string') => {
    if (typeof c[k] !== type) throw new Error(`${path}: "${k}" must be a ${type}, got ${JSON.stringify(c[k])}`);
  };
  for (const k of ['vocab_size', 'n_layer', 'n_embd', 'n_head', 'n_positions', 'batch_size', 'steps', 'lr', 'min_lr', 'warmup_steps',
    'weight_decay', 'grad_clip', 'eval_every', 'checkpoint_every', 'eval_batches', 'seed'] as const) need(k, 'number');
  need('name', 'string');
  need('save_dtype', 'string');
  if (c.corpus !== undefined && c.corpus !== 'small' && c.corpus !== 'large') throw new Error(`${path}: "corpus" must be "small" or "large", got ${JSON.stringify(c.corpus)}`);
  if (c.precision !== undefined && c.precision !== 'fp32' && c.precision !== 'bf16') throw new Error(`${path}: "precision" must be "fp32" or "bf16", got ${JSON.stringify(c.precision)}`);
  if ((c.n_embd as number) % (c.n_head as number) !== 0) throw new Error(`${path}: "n_embd" must be divisible by "n_head"`);
  return c as unknown as PretrainConfig;
}

export interface PretrainResult {
  outDir: string;
  steps: number;
  seconds: number;
  finalTrainLoss: number;
  validationLoss: number;
}

/**
 * The model directory's non-weight files and the initial model: a byte-level BPE trained
 * once on the training split (kept on resume), tokenizer_config.json, config.json.
 */
function prepareModelDirectory(cfg: PretrainConfig, corpusDir: string, outDir: string, resume: boolean, log: (s: string) => void): { model: GPT2LMHeadModel; tok: TextTokenizer } {
  const tokPath = join(outDir, 'tokenizer.json');
  if (!existsSync(tokPath) || !resume) {
    log(`training a ${cfg.vocab_size}-token byte-level BPE on ${join(corpusDir, 'train.jsonl')}`);
    const docs = readFileSync(join(corpusDir, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
    writeFileAtomic(tokPath, JSON.stringify(trainByteLevelBpe(docs, { vocabSize: cfg.vocab_size })));
  }
  const eos = cfg.vocab_size - 1; // <|endoftext|> is the last token, as in GPT-2
  writeFileAtomic(join(outDir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', model_max_length: cfg.n_positions }, null, 2) + '\n');
  const model = new GPT2LMHeadModel({ vocabSize: cfg.vocab_size, nPositions: cfg.n_positions, nEmbd: cfg.n_embd, nLayer: cfg.n_layer, nHead: cfg.n_head }, cfg.seed);
  // config.json first, so the tokenizer can read bos/eos ids from it
  writeFileAtomic(join(outDir, 'config.json'), JSON.stringify({ ...model.hfConfig, bos_token_id: eos, eos_token_id: eos }, null, 2) + '\n');
  const tok = TextTokenizer.fromDir(outDir);
  if (tok.tokenToId('<|endoftext|>') !== eos) throw new Error('tokenizer: <|endoftext|> is not the last id');
  return { model, tok };
}

/** Mean loss on the same eval_batches windows of D^V every time (a fixed seed). */
function meanValidationLoss(model: GPT2LMHeadModel, valid: Int32Array, B: number, T: number, batches: number): number {
  return noGrad(() => {
    const rng = new Rng(12345);
    let s = 0;
    for (let i = 0; i < batches; i++) {
      const { ids, targets } = randomWindows(valid, B, T, rng);
      s += model.loss(ids, targets, B, T).item();
    }
    return s / batches;
  });
}

/**
 * Runs (or resumes) pre-training. dataDir holds the built datasets (the small corpus is
 * dataDir/pretrain; opts.corpusDir names another, e.g. the larger corpus); outDir receives the
 * checkpoint directory, training_log.jsonl and, while running, a resumable state/.
 */
export function pretrain(
  cfg: PretrainConfig,
  dataDir: string,
  outDir: string,
  /** stopAfter: save the resumable state after that many steps and return (a run in pieces). */
  opts: { resume?: boolean; stopAfter?: number; corpusDir?: string; log?: (s: string) => void; progress?: Progress } = {},
): PretrainResult {
  const log = opts.log ?? (() => {});
  mkdirSync(outDir, { recursive: true });
  const stateDir = join(outDir, 'state');
  const logPath = join(outDir, 'training_log.jsonl');

  const corpusDir = opts.corpusDir ?? join(dataDir, 'pretrain');
  const { model, tok } = prepareModelDirectory(cfg, corpusDir, outDir, !!opts.resume, log);
  const eos = cfg.vocab_size - 1;
  const train = jsonlTokenStream(tok, join(corpusDir, 'train.jsonl'), eos, 'after');
  const valid = jsonlTokenStream(tok, join(corpusDir, 'dv.jsonl'), eos, 'after');
  log(`corpus: ${train.length} training tokens, ${valid.length} validation tokens (D^V); model ${model.numParameters().toLocaleString()} parameters`);

  const decay = model.parameters().filter((p) => p.ndim >= 2);
  const noDecay = model.parameters().filter((p) => p.ndim < 2);
  const opt = new AdamW([{ params: decay }, { params: noDecay, weightDecay: 0 }], { lr: cfg.lr, weightDecay: cfg.weight_decay, betas: [0.9, 0.95] });
  if (!opts.resume || !existsSync(join(stateDir, 'state.json'))) rmSync(logPath, { force: true });

  const B = cfg.batch_size, T = cfg.n_positions;
  const evalLoss = (): number => meanValidationLoss(model, valid, B, T, cfg.eval_batches);

  let elapsedBefore = 0;
  let start = 0;
  const t0 = performance.now();
  const seconds = () => elapsedBefore + (performance.now() - t0) / 1000;
  let lossAvg = NaN;
  const run = trainLoop({
    steps: cfg.steps, seed: cfg.seed, clipNorm: cfg.grad_clip,
    schedule: (step) => cosineWithWarmup(step, { maxLr: cfg.lr, warmupSteps: cfg.warmup_steps, totalSteps: cfg.steps, minLr: cfg.min_lr }),
    checkpoint: { dir: stateDir, every: cfg.checkpoint_every }, resume: !!opts.resume, stopAfter: opts.stopAfter,
    precision: cfg.precision ?? 'fp32',
  }, {
    optimizer: opt, params: model.parameters(), stateModule: model,
    forward: (_step, rng) => {
      const { ids, targets } = randomWindows(train, B, T, rng);
      return model.loss(ids, targets, B, T);
    },
    record: () => ({ seconds: seconds() }),
    restore: (r) => (elapsedBefore = r.seconds as number),
    onResume: (step) => {
      start = step;
      log(`resuming at step ${step}`);
    },
    afterStep: (r) => {
      const l = r.loss!;
      if (!Number.isFinite(l)) throw new Error(`pretrain: loss became ${l} at step ${r.step - 1}`);
      lossAvg = Number.isNaN(lossAvg) ? l : 0.95 * lossAvg + 0.05 * l;
      const entry: Record<string, number> = { step: r.step, loss: l, loss_avg: lossAvg, lr: r.lr, grad_norm: r.gradNorm!, seconds: seconds() };
      if (r.step % cfg.eval_every === 0 || r.step === cfg.steps) entry.val_loss = evalLoss();
      appendFileSync(logPath, JSON.stringify(entry) + '\n');
      const tps = ((r.step - start) * B * T) / ((performance.now() - t0) / 1000);
      opts.progress?.({ done: r.step, total: cfg.steps, text: `loss ${lossAvg.toFixed(3)}${entry.val_loss !== undefined ? ` val ${entry.val_loss.toFixed(3)}` : ''} ${tps.toFixed(0)} tok/s` });
      if (entry.val_loss !== undefined) log(`step ${r.step}/${cfg.steps} loss ${lossAvg.toFixed(3)} val ${entry.val_loss.toFixed(3)} lr ${r.lr.toExponential(2)} ${tps.toFixed(0)} tok/s ${seconds().toFixed(0)}s`);
    },
  });
  if (run.stopped) {
    log(`stopped after step ${run.steps}; continue with --resume`);
    return { outDir, steps: run.steps, seconds: seconds(), finalTrainLoss: lossAvg, validationLoss: NaN };
  }
  const validationLoss = evalLoss();
  saveCheckpoint(outDir, { ...model.hfConfig, bos_token_id: eos, eos_token_id: eos },
    model.hfTensors().map((t) => ({ ...t, dtype: cfg.save_dtype })));
  rmSync(stateDir, { recursive: true, force: true });
  // What the privacy audit measures attack budgets against: the tokens pre-training saw.
  writeJsonAtomic(join(outDir, 'pretraining.json'), {
    tokens: cfg.steps * B * T, steps: cfg.steps, batch_size: B, seq_len: T, seconds: Math.round(seconds()), config: cfg,
  });
  // The shipped weights are rounded to save_dtype: check they still load.
  Checkpoint.open(outDir).close();
  return { outDir, steps: cfg.steps, seconds: seconds(), finalTrainLoss: lossAvg, validationLoss };
}
