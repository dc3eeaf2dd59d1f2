// Full fine-tuning, the FT row of every table: all transformer blocks train, the trunk
// (embeddings, final norm, tied head) stays frozen (METHOD.md), AdamW, one run per
// learning rate of the grid, the best picked on the validation split only, then scored
// once on test. Each run checkpoints and resumes; finished runs are not repeated.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trainedInFloat32, type CausalLM } from '../models/causal_lm.js';
import { loadModel } from '../models/load.js';
import { AdamW } from '../optim/adamw.js';
import { cosineWithWarmup } from '../optim/schedule.js';
import { Rng } from '../util/rng.js';
import { encodePair, evaluateMultipleChoice, MultipleChoiceItem } from '../eval/multiple_choice.js';
import { corpusPerplexity } from '../eval/perplexity.js';
import type { Task } from '../data/tasks.js';
import { saveCheckpoint } from '../io/checkpoint.js';
import { splitGuard } from '../data/split_guard.js';
import { writeFileAtomic } from '../io/atomic.js';
import { TextTokenizer, TOKENIZER_FILES } from '../tokenizer/tokenizer.js';
import { trainLoop } from './loop.js';
import type { Module, Parameter } from '../nn/module.js';

/** The paper's learning-rate grid (METHOD.md, Stage 3). */
export { better };
export const PAPER_LR_GRID = [2e-5, 5e-5, 1e-4, 2e-4, 3e-4];

/** A training budget: the lr grid, steps, batch, window and seed (FT and offsite tuning). */
export interface TrainBudget {
  lrs: number[];
  steps: number;
  batchSize: number;
  /** Training window for perplexity tasks, in tokens (≤ the model's context). */
  seqLen?: number;
  seed: number;
}

/** The default budget of FT and offsite tuning (configs and the CLI). */
export const DEFAULT_BUDGET: TrainBudget = { lrs: PAPER_LR_GRID, steps: 300, batchSize: 16, seed: 0 };

export interface FinetuneOptions {
  lrs: number[];
  steps: number;
  batchSize: number;
  /** Items (MC) or documents (LM) of the validation / test splits scored; all by default. */
  evalLimit?: number;
  /** Training window for perplexity tasks, in tokens; the model's context by default. */
  seqLen?: number;
  /** The training split already encoded (trainingExamples), e.g. shared by many runs. */
  examples?: Example[];
  seed?: number;
  checkpointEvery?: number;
  log?: (s: string) => void;
}

/**
 * Token sequences to train on: the answer after its context (MC) or windows of text (LM).
 * Typed arrays, not number[]: a run keeps its examples for hours, and V8's full collections
 * (which training's buffer churn starts every few dozen milliseconds) mark every object on
 * the heap; SOTU's 17k windows as number[] were 39 MB of it, and a third of a tuning run's
 * time went to the collector. LM windows are views of one token stream (no copies).
 */
export interface Example {
  input: Int32Array;
  targets: Int32Array; // same length as input, -1 where not scored
}

export function trainingExamples(task: Task, tok: TextTokenizer, context: number): Example[] {
  if (task.kind === 'mc') {
    return task.items.map((it: MultipleChoiceItem) => {
      const { context: ctx, continuation } = encodePair(tok, it.context, ' ' + it.choices[it.label]);
      const seq = [...ctx, ...continuation].slice(-(context + 1));
      const input = Int32Array.from(seq.slice(0, -1));
      const targets = new Int32Array(input.length).fill(-1);
      for (let k = 0; k < Math.min(continuation.length, input.length); k++) targets[input.length - 1 - k] = seq[seq.length - 1 - k];
      return { input, targets };
    });
  }
  // LM: consecutive windows of the documents (EOS-separated), every token scored.
  const eos = tok.prefixTokenId;
  const tokens: number[] = [];
  for (const d of task.documents) {
    tokens.push(eos);
    // One push per token: a whole-corpus document (SOTU train is 2M tokens) overflows the
    // argument list of push(...tokens).
    for (const t of tok.encode(d)) tokens.push(t);
  }
  const stream = Int32Array.from(tokens);
  const out: Example[] = [];
  for (let s = 0; s + 1 < stream.length; s += context) {
    const end = Math.min(s + context + 1, stream.length);
    if (end - s < 2) break;
    out.push({ input: stream.subarray(s, end - 1), targets: stream.subarray(s + 1, end) });
  }
  return out;
}

/** Freezes the trunk; returns the trainable (block) parameters. */
export function freezeTrunk(model: CausalLM) {
  model.requiresGrad(false);
  model.blocks.requiresGrad(true);
  return model.blocks.parameters();
}

export interface Score {
  metric: 'acc' | 'word_perplexity';
  value: number;
  details: Record<string, number>;
}

export function scoreTask(model: CausalLM, tok: TextTokenizer, task: Task, limit = Infinity): Score {
  if (task.kind === 'mc') {
    const r = evaluateMultipleChoice(model, tok, task.items.slice(0, limit));
    return { metric: 'acc', value: r.acc, details: { ...r } };
  }
  const docs = task.documents.slice(0, limit).map((text) => ({ text, tokens: tok.encode(text) }));
  const r = corpusPerplexity(model, docs, tok.prefixTokenId);
  return { metric: 'word_perplexity', value: r.word_perplexity, details: { ...r } };
}

/**
 * One learning rate's training run over `params` (everything else frozen), through the
 * shared loop: random batches drawn by step (so a resumed run continues exactly), the
 * cosine schedule with 5% warm-up down to lr / 10, clipping at 1, checkpoints in runDir/state.
 */
export function trainRun(
  model: CausalLM,
  params: Parameter[],
  examples: Example[],
  lr: number,
  runDir: string,
  opts: Pick<FinetuneOptions, 'steps' | 'batchSize' | 'seed' | 'checkpointEvery'>,
  log: (s: string) => void,
  stateModule: Module = model,
): void {
  const B = opts.batchSize;
  const schedule = { maxLr: lr, warmupSteps: Math.ceil(opts.steps * 0.05), totalSteps: opts.steps, minLr: lr * 0.1 };
  model.train();
  trainLoop({
    steps: opts.steps, seed: opts.seed ?? 0, schedule: (step) => cosineWithWarmup(step, schedule),
    checkpoint: { dir: join(runDir, 'state'), every: opts.checkpointEvery ?? 0 }, resume: true,
  }, {
    optimizer: new AdamW(params, { lr, weightDecay: 0 }), params, stateModule,
    forward: (_step, rng) => {
      const { ids, targets, T } = exampleBatch(examples, B, rng);
      return model.loss(ids, targets, B, T);
    },
    onResume: (step) => log(`lr ${lr}: resuming at step ${step}`),
    afterStep: (r) => {
      if (r.step % 50 === 0) log(`lr ${lr}: step ${r.step}/${opts.steps} loss ${r.loss!.toFixed(4)}`);
    },
  });
  model.eval();
}

/** B examples drawn at random, padded to the longest (targets -1 where not scored). */
export function exampleBatch(examples: Example[], B: number, rng: Rng): { ids: Int32Array; targets: Int32Array; T: number } {
  const batch = Array.from({ length: B }, () => examples[rng.int(examples.length)]);
  const T = Math.max(...batch.map((e) => e.input.length));
  const ids = new Int32Array(B * T), targets = new Int32Array(B * T).fill(-1);
  batch.forEach((e, b) => {
    ids.set(e.input, b * T);
    targets.set(e.targets, b * T);
  });
  return { ids, targets, T };
}

const better = (a: Score, b: Score | null) => !b || (a.metric === 'acc' ? a.value > b.value : a.value < b.value);

/** Snap a learning rate to the grids' steps, 1 or 3 × 10^k (1e-3, 3e-3, 1e-2, ...). */
function snapLr(x: number): number {
  const decade = 10 ** Math.floor(Math.log10(x) + 1e-9);
  const mantissa = x / decade;
  return Number((mantissa < 2 ? decade : mantissa < 5.5 ? 3 * decade : 10 * decade).toPrecision(12));
}

/**
 * The next learning rate above `lr`: √10 times higher, snapped to 1 or 3 × 10^k as the
 * grids step (1e-3 → 3e-3 → 1e-2).
 */
export function nextLrUp(lr: number): number {
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`nextLrUp: a positive learning rate, got ${lr}`);
  return snapLr(lr * Math.sqrt(10));
}

/** The next learning rate below `lr`: √10 times lower, snapped the same way (1e-2 → 3e-3 → 1e-3). */
export function nextLrDown(lr: number): number {
  if (!(lr > 0) || !Number.isFinite(lr)) throw new Error(`nextLrDown: a positive learning rate, got ${lr}`);
  return snapLr(lr / Math.sqrt(10));
}

/** Step from `edge` with `next` while the last lr tried is the best, keeping the better (shared by both directions). */
function extendFrom<T>(edge: number, chosen: { best: LrRun; value: T }, next: (lr: number) => number, runAt: (lr: number) => { best: LrRun; value: T }, maxSteps: number) {
  const extensions: LrRun[] = [];
  for (let i = 0; i < maxSteps && chosen.best.lr === edge; i++) {
    edge = next(edge);
    const r = runAt(edge);
    extensions.push(r.best);
    if (!better(r.best.validation, chosen.best.validation)) break;
    chosen = r;
  }
  return { ...chosen, extensions };
}

/**
 * METHOD.md's grids, extended upward when validation says the model needs it: while a
 * search's best lr is the largest tried, `runAt` trains the next lr up (nextLrUp) and the
 * better on validation is kept; it stops at the first step that does not improve, or after
 * `maxSteps` (three: 3e-3 → 1e-2 → 3e-2 above the base-24 grid; a bound, not a choice, so a
 * diverging run cannot go on forever). A grid of one lr (a repeat at a chosen lr) is never
 * extended.
 */
export function extendLrGridUpward<T>(
  grid: { lrs: number[]; best: LrRun; value: T },
  runAt: (lr: number) => { best: LrRun; value: T },
  maxSteps = 3,
): { best: LrRun; value: T; extensions: LrRun[] } {
  const chosen = { best: grid.best, value: grid.value };
  if (grid.lrs.length < 2) return { ...chosen, extensions: [] };
  return extendFrom(Math.max(...grid.lrs), chosen, nextLrUp, runAt, maxSteps);
}

/**
 * The mirror image, for a search that starts at an lr chosen for fewer trainable
 * parameters (the audit tunes every weight of an emulator at the lr its adapters chose,
 * where a lower one may suit): while the smallest lr tried is the best, `runAt` trains the
 * next lr down, at most `maxSteps` times; a single lr is extended too, since that is the
 * case it is for.
 */
export function extendLrGridDownward<T>(
  grid: { lrs: number[]; best: LrRun; value: T },
  runAt: (lr: number) => { best: LrRun; value: T },
  maxSteps = 2,
): { best: LrRun; value: T; extensions: LrRun[] } {
  return extendFrom(Math.min(...grid.lrs), { best: grid.best, value: grid.value }, nextLrDown, runAt, maxSteps);
}

/** The lr a saved best checkpoint was trained with (its selected.json), or null. */
function selectedLr(dir: string): number | null {
  try {
    return (JSON.parse(readFileSync(join(dir, 'selected.json'), 'utf8')) as { lr: number }).lr;
  } catch {
    return null;
  }
}

/** A JSON result computed once and cached at `path`, so a resumed run reuses it. */
export function cachedJson<T>(path: string, compute: () => T): T {
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as T;
  const v = compute();
  writeFileAtomic(path, JSON.stringify(v, null, 2));
  return v;
}

export interface LrRun {
  lr: number;
  validation: Score;
}

/**
 * One training run per learning rate in runDirOf(lr); a run with a result.json is not
 * repeated. `train` trains and scores on validation; `onBest` gets the trained state of a
 * run that has just become the best, while it is still in memory (to save it).
 * `bestSaved(lr)` says whether what onBest saved for that lr is still there: when every run
 * was done before but the saved state is gone (deleted, or a run cut between the two
 * writes), the best lr is trained again (deterministic) so the caller can score it.
 */
export function searchLearningRates<M>(
  lrs: number[],
  runDirOf: (lr: number) => string,
  label: string,
  train: (lr: number, runDir: string) => { validation: Score; trained: M },
  onBest: (lr: number, trained: M) => void,
  log: (s: string) => void,
  bestSaved: (lr: number) => boolean = () => true,
): { runs: LrRun[]; best: LrRun } {
  const runs: LrRun[] = [];
  let best: LrRun | null = null;
  for (const lr of lrs) {
    const runDir = runDirOf(lr);
    const resultPath = join(runDir, 'result.json');
    if (existsSync(resultPath)) {
      const r = JSON.parse(readFileSync(resultPath, 'utf8')) as LrRun;
      runs.push(r);
      if (!best || better(r.validation, best.validation)) best = r;
      log(`${label}lr ${lr}: done before (validation ${r.validation.value.toFixed(4)})`);
      continue;
    }
    mkdirSync(runDir, { recursive: true });
    const { validation, trained } = train(lr, runDir);
    const r = { lr, validation };
    if (!best || better(validation, best.validation)) {
      best = r;
      onBest(lr, trained);
    }
    writeFileAtomic(resultPath, JSON.stringify(r, null, 2));
    runs.push(r);
  }
  if (!best) throw new Error(`${label}no learning rate given`);
  if (!bestSaved(best.lr)) {
    log(`${label}lr ${best.lr}: its saved state is gone; training it again`);
    onBest(best.lr, train(best.lr, runDirOf(best.lr)).trained);
  }
  return { runs, best };
}

export interface FinetuneResult {
  runs: { lr: number; validation: Score }[];
  bestLr: number;
  validation: Score;
  test: Score;
  zeroShot: { validation: Score; test: Score };
}

export function finetune(modelDir: string, tasks: { train: Task; validation: Task; test: Task }, outDir: string, opts: FinetuneOptions): FinetuneResult {
  const log = opts.log ?? (() => {});
  mkdirSync(outDir, { recursive: true });
  const tok = TextTokenizer.fromDir(modelDir);
  const base = loadModel(modelDir);
  const examples = opts.examples ?? trainingExamples(tasks.train, tok, Math.min(opts.seqLen ?? base.maxContext, base.maxContext));
  if (examples.length === 0) throw new Error('finetune: the training split yields no examples');
  const zeroShot: FinetuneResult['zeroShot'] = cachedJson(join(outDir, 'zero_shot.json'), () => ({
    validation: scoreTask(base, tok, tasks.validation, opts.evalLimit),
    test: splitGuard.during('ZS test', 'evaluation', () => scoreTask(base, tok, tasks.test, opts.evalLimit)),
  }));
  log(`zero-shot: validation ${zeroShot.validation.metric} ${zeroShot.validation.value.toFixed(4)}, test ${zeroShot.test.value.toFixed(4)}; ${examples.length} training examples`);

  const { runs, best } = splitGuard.during('FT learning-rate search', 'selection', () => searchLearningRates(
    opts.lrs,
    (lr) => join(outDir, `lr-${lr}`),
    '',
    (lr, runDir) => {
      const model = loadModel(modelDir);
      trainRun(model, freezeTrunk(model), examples, lr, runDir, opts, log);
      const validation = scoreTask(model, tok, tasks.validation, opts.evalLimit);
      log(`lr ${lr}: validation ${validation.metric} ${validation.value.toFixed(4)}`);
      return { validation, trained: model };
    },
    (lr, model) => {
      // Trained blocks in float32 (as the plug-in writes its tuned blocks): F16 would round the update away.
      saveCheckpoint(join(outDir, 'best'), model.hfConfig, trainedInFloat32(model.hfTensors(), model.blocks.parameters()));
      for (const f of TOKENIZER_FILES) if (existsSync(join(modelDir, f))) writeFileSync(join(outDir, 'best', f), readFileSync(join(modelDir, f)));
      writeFileAtomic(join(outDir, 'best', 'selected.json'), JSON.stringify({ lr }));
    },
    log,
    (lr) => selectedLr(join(outDir, 'best')) === lr,
  ));
  // The selected model: the best run's checkpoint (written when it was best), scored on test once.
  const bestModel = loadModel(join(outDir, 'best'));
  const test = splitGuard.during('FT test', 'evaluation', () => scoreTask(bestModel, tok, tasks.test, opts.evalLimit));
  const result: FinetuneResult = { runs, bestLr: best.lr, validation: best.validation, test, zeroShot };
  writeFileAtomic(join(outDir, 'results.json'), JSON.stringify(result, null, 2));
  return result;
}
