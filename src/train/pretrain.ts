// Pre-training a GPT-2-architecture base model on the offline pretraining corpus
// (data/build.ts, data/corpus.ts): from scratch, with a byte-level BPE trained on the same
// text, or continued from a committed model (`init_from`: its weights and tokenizer, a
// fresh optimizer); random windows of the document stream (EOS between documents),
// optionally drawn from named sources at fixed shares (`mix`); AdamW with a cosine
// schedule, gradient clipping, periodic validation on D^V, resumable checkpoints, and a
// Hugging Face checkpoint directory (config.json, model.safetensors, tokenizer.json) as the result.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { GPT2LMHeadModel } from '../models/gpt2.js';
import { AdamW } from '../optim/adamw.js';
import { cosineWithWarmup } from '../optim/schedule.js';
import { noGrad } from '../tensor/autograd.js';
import { Rng } from '../util/rng.js';
import { trainByteLevelBpe } from '../tokenizer/train_bpe.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { saveCheckpoint, readJsonObject, Checkpoint } from '../io/checkpoint.js';
import { loadModel } from '../models/load.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { cutStepLogAt } from '../io/step-log.js';
import { jsonlTokenStream, mixedWindows, randomWindows } from '../data/streams.js';
import { checkedCorpusName, type CorpusVariant } from '../data/corpus.js';
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
  /** 'small' (the data build's pretrain split, default), 'large' or 'modern' (data/corpus.ts). */
  corpus?: 'small' | CorpusVariant;
  /**
   * Continue pre-training this model directory (relative to the configuration file): its
   * weights and tokenizer, with a fresh optimizer and schedule; its shape must match. The
   * steps before count in pretraining.json's tokens (the audit's budgets are fractions of them).
   */
  init_from?: string;
  /**
   * Shares of training windows drawn from named sources (a document id's prefix before its
   * first "/", e.g. {"nlp-corpus": 0.5}); the remaining share comes from every other
   * document, in the corpus's own proportions. Omitted: one stream of all documents.
   */
  mix?: Record<string, number>;
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
  if (c.corpus !== undefined) checkedCorpusName(c.corpus, `${path}: "corpus"`);
  if (c.init_from !== undefined) {
    if (typeof c.init_from !== 'string' || !c.init_from) throw new Error(`${path}: "init_from" must be a model directory (relative to the file), got ${JSON.stringify(c.init_from)}`);
    if (!isAbsolute(c.init_from)) c.init_from = resolve(dirname(path), c.init_from);
  }
  if (c.mix !== undefined) {
    const m = c.mix as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || Array.isArray(m) || Object.keys(m).length === 0) throw new Error(`${path}: "mix" must be an object of source name -> share, e.g. {"nlp-corpus": 0.5}`);
    for (const [k, v] of Object.entries(m)) if (typeof v !== 'number' || !(v > 0 && v < 1)) throw new Error(`${path}: "mix.${k}" must be a share in (0, 1), got ${JSON.stringify(v)}`);
    const total = Object.values(m as Record<string, number>).reduce((a, b) => a + b, 0);
    if (!(total < 1)) throw new Error(`${path}: the shares in "mix" add up to ${total}; they must leave some share (< 1) for the other documents`);
  }
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
  if (cfg.init_from) {
    // Continued pre-training: the committed model's tokenizer (its ids are what its weights know).
    copyFileSync(join(cfg.init_from, 'tokenizer.json'), tokPath);
  } else if (!existsSync(tokPath) || !resume) {
    log(`training a ${cfg.vocab_size}-token byte-level BPE on ${join(corpusDir, 'train.jsonl')}`);
    const docs = readFileSync(join(corpusDir, 'train.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { text: string }).text);
    writeFileAtomic(tokPath, JSON.stringify(trainByteLevelBpe(docs, { vocabSize: cfg.vocab_size })));
  }
  const eos = cfg.vocab_size - 1; // <|endoftext|> is the last token, as in GPT-2
  writeFileAtomic(join(outDir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', model_max_length: cfg.n_positions }, null, 2) + '\n');
  const model = cfg.init_from ? initialModel(cfg) : new GPT2LMHeadModel({ vocabSize: cfg.vocab_size, nPositions: cfg.n_positions, nEmbd: cfg.n_embd, nLayer: cfg.n_layer, nHead: cfg.n_head }, cfg.seed);
  // config.json first, so the tokenizer can read bos/eos ids from it
  writeFileAtomic(join(outDir, 'config.json'), JSON.stringify({ ...model.hfConfig, bos_token_id: eos, eos_token_id: eos }, null, 2) + '\n');
  const tok = TextTokenizer.fromDir(outDir);
  if (tok.tokenToId('<|endoftext|>') !== eos) throw new Error('tokenizer: <|endoftext|> is not the last id');
  return { model, tok };
}

/** The model pre-training continues from: a GPT-2 checkpoint of exactly the configured shape. */
function initialModel(cfg: PretrainConfig): GPT2LMHeadModel {
  const dir = cfg.init_from!;
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`init_from: ${dir} is not a model directory (no config.json)`);
  const hf = readJsonObject(join(dir, 'config.json')) as Record<string, unknown>;
  const shape: [keyof PretrainConfig, string][] = [['vocab_size', 'vocab_size'], ['n_layer', 'n_layer'], ['n_embd', 'n_embd'], ['n_head', 'n_head'], ['n_positions', 'n_positions']];
  for (const [ours, theirs] of shape) {
    if (hf[theirs] !== cfg[ours]) throw new Error(`init_from: ${dir}/config.json has ${theirs} ${JSON.stringify(hf[theirs])}, the configuration says ${cfg[ours]}`);
  }
  const model = loadModel(dir);
  if (!(model instanceof GPT2LMHeadModel)) throw new Error(`init_from: ${dir} is not a GPT-2 checkpoint`);
  return model;
}

/** Tokens the init_from model was pre-trained on (its pretraining.json), 0 for a model from scratch. */
function tokensBefore(cfg: PretrainConfig): number {
  if (!cfg.init_from) return 0;
  const path = join(cfg.init_from, 'pretraining.json');
  const tokens = existsSync(path) ? (readJsonObject(path) as { tokens?: unknown }).tokens : undefined;
  if (typeof tokens !== 'number') throw new Error(`init_from: ${path} must exist and give "tokens" (the tokens that model was pre-trained on)`);
  return tokens;
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

/** The training token streams: with a mix, one per named source and one for the rest; without, one. */
function trainingStreams(cfg: PretrainConfig, tok: TextTokenizer, trainPath: string, eos: number): { name: string; share: number; stream: Int32Array }[] {
  const B = cfg.batch_size, T = cfg.n_positions;
  const sourceOf = (id: string) => id.split('/')[0];
  const named = Object.keys(cfg.mix ?? {});
  const streams = cfg.mix
    ? [...named.map((n) => ({ name: n, share: cfg.mix![n], stream: jsonlTokenStream(tok, trainPath, eos, 'after', (id) => sourceOf(id) === n) })),
      { name: 'the rest', share: 1 - named.reduce((a, n) => a + cfg.mix![n], 0), stream: jsonlTokenStream(tok, trainPath, eos, 'after', (id) => !named.includes(sourceOf(id))) }]
    : [{ name: 'all', share: 1, stream: jsonlTokenStream(tok, trainPath, eos, 'after') }];
  for (const s of streams) if (s.stream.length < B * (T + 1)) throw new Error(`pretrain: ${trainPath} holds ${s.stream.length} tokens of ${s.name === 'all' ? 'training text' : `source "${s.name}"`}, fewer than one batch (mix names sources by the prefix of a document id)`);
  return streams;
}

/** Writes the finished model (weights rounded to save_dtype) and its pretraining.json, then checks it loads. */
function saveTrainedModel(cfg: PretrainConfig, model: GPT2LMHeadModel, outDir: string, before: number, seconds: number): void {
  const B = cfg.batch_size, T = cfg.n_positions, eos = cfg.vocab_size - 1;
  saveCheckpoint(outDir, { ...model.hfConfig, bos_token_id: eos, eos_token_id: eos },
    model.hfTensors().map((t) => ({ ...t, dtype: cfg.save_dtype })));
  // What the privacy audit measures attack budgets against: the tokens pre-training saw.
  // A continued model counts the tokens of the model it continued; init_from is written relative to outDir (no machine paths).
  writeJsonAtomic(join(outDir, 'pretraining.json'), {
    tokens: before + cfg.steps * B * T, steps: cfg.steps, batch_size: B, seq_len: T, seconds: Math.round(seconds),
    ...(cfg.init_from ? { continued_from: { model: relative(outDir, cfg.init_from), tokens: before } } : {}),
    config: cfg.init_from ? { ...cfg, init_from: relative(outDir, cfg.init_from) } : cfg,
  });
  // The shipped weights are rounded to save_dtype: check they still load.
  Checkpoint.open(outDir).close();
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
  const before = tokensBefore(cfg); // read now: a missing record must stop the run before it trains, not after
  const eos = cfg.vocab_size - 1;
  const B = cfg.batch_size, T = cfg.n_positions;
  const trainPath = join(corpusDir, 'train.jsonl');
  const streams = trainingStreams(cfg, tok, trainPath, eos);
  const valid = jsonlTokenStream(tok, join(corpusDir, 'dv.jsonl'), eos, 'after');
  log(`corpus: ${streams.map((s) => `${s.stream.length} training tokens${cfg.mix ? ` from ${s.name} (share ${s.share.toFixed(2)})` : ''}`).join(', ')}, ${valid.length} validation tokens (D^V); model ${model.numParameters().toLocaleString()} parameters${cfg.init_from ? `, continued from ${cfg.init_from}` : ''}`);

  const decay = model.parameters().filter((p) => p.ndim >= 2);
  const noDecay = model.parameters().filter((p) => p.ndim < 2);
  const opt = new AdamW([{ params: decay }, { params: noDecay, weightDecay: 0 }], { lr: cfg.lr, weightDecay: cfg.weight_decay, betas: [0.9, 0.95] });
  if (!opts.resume || !existsSync(join(stateDir, 'state.json'))) rmSync(logPath, { force: true });

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
      const { ids, targets } = streams.length === 1 ? randomWindows(streams[0].stream, B, T, rng) : mixedWindows(streams, B, T, rng);
      return model.loss(ids, targets, B, T);
    },
    record: () => ({ seconds: seconds() }),
    restore: (r) => (elapsedBefore = r.seconds as number),
    onResume: (step) => {
      start = step;
      // Steps logged after the checkpoint (a kill between two) are done again: drop them, and
      // carry the running mean on from the checkpoint's entry rather than restart it.
      const last = cutStepLogAt(logPath, step);
      if (typeof last?.loss_avg === 'number') lossAvg = last.loss_avg;
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
  saveTrainedModel(cfg, model, outDir, before, seconds());
  rmSync(stateDir, { recursive: true, force: true });
  return { outDir, steps: cfg.steps, seconds: seconds(), finalTrainLoss: lossAvg, validationLoss };
}
