// Dynamic LayerReplace (ScaleOT Sec. 3.2, Eqs. 1-5; METHOD.md Stage 1): learns one
// importance score per block and trains a harmonizer for every block, alternating
//   DL steps: sample a candidate (a set of blocks replaced by their harmonizers), compute
//             the next-token loss on a D^T batch, update only the harmonizers it used;
//   RL steps: sample N_c candidates, score each on the same D^V batch (no gradients),
//             reward r_j = exp(-L_j) - mean_t exp(-L_t) (Eq. 4), and move every kept
//             block's score by η r_j σ(s_i)(1 - σ(s_i)) (Eq. 5), all computed from the
//             scores as they were before the step and then summed.
// The model itself stays frozen throughout.
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM, Block } from '../../models/causal_lm.js';
import { noGrad } from '../../tensor/autograd.js';
import { cutStepLogAt } from '../../io/step-log.js';
import { AdamW } from '../../optim/adamw.js';
import { Rng } from '../../util/rng.js';
import type { Progress } from '../../util/progress.js';
import { SafetensorsFile, writeSafetensors } from '../../io/safetensors.js';
import { writeJsonAtomic } from '../../io/atomic.js';
import { moduleTensors, readModuleTensors } from '../../io/parameters.js';
import { Harmonizer, defaultHarmonizerRank } from './harmonizer.js';
import { makeGroups } from './plan.js';
import { trainLoop } from '../../train/loop.js';
import { Module, ModuleList } from '../../nn/module.js';
import { randomWindows } from '../../data/streams.js';

export interface ImportanceConfig {
  numGroups: number; // N_g = 4
  numCandidates: number; // N_c = 3
  rank: number; // harmonizer rank r
  steps: number; // DL + RL steps in all
  dlPerRl: number; // DL steps per RL step (1 = alternate)
  batchSize: number;
  seqLen: number;
  lr: number; // harmonizer AdamW learning rate
  eta: number; // score learning rate η (the paper's is 1)
  /** 'running_std': rewards divided by the running std of past rewards (METHOD.md allows it). */
  rewardScale: 'none' | 'running_std';
  checkpointEvery: number;
  seed: number;
}

/** The defaults (docs/evidence/importance-defaults.md); the rank depends on the model. */
export const DEFAULT_IMPORTANCE: Omit<ImportanceConfig, 'rank'> = {
  numGroups: 4, numCandidates: 3, steps: 400, dlPerRl: 1, batchSize: 8, seqLen: 128,
  lr: 1e-3, eta: 0.05, rewardScale: 'running_std', checkpointEvery: 50, seed: 0,
};

export function defaultImportanceConfig(hidden: number): ImportanceConfig {
  const { numGroups, numCandidates, ...rest } = DEFAULT_IMPORTANCE;
  return { numGroups, numCandidates, rank: defaultHarmonizerRank(hidden), ...rest }; // the key order of the recorded configs
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/** Step s (from 0) is an RL step when s + 1 is a multiple of dlPerRl + 1; the others are DL steps. */
export const isRlStep = (cfg: Pick<ImportanceConfig, 'dlPerRl'>, step: number): boolean => (step + 1) % (cfg.dlPerRl + 1) === 0;

/**
 * The gradient steps the harmonizers get: the DL steps (RL steps only score candidates).
 * OT's distillation gets as many, so that the two emulators cost the same training.
 */
export function harmonizerGradientSteps(cfg: Pick<ImportanceConfig, 'steps' | 'dlPerRl'>): number {
  return cfg.steps - Math.floor(cfg.steps / (cfg.dlPerRl + 1));
}

/**
 * Eqs. 1-3: p_i ~ U(0, σ(s_i)); in each group the floor(|g|/2) blocks with the lowest p
 * (ties to the lower index) are replaced, the rest kept. (METHOD.md: for an odd group the
 * strict ">" of Eq. 2 would keep fewer than half, so we replace exactly floor(|g|/2).)
 * Returns the replaced mask.
 */
export function sampleCandidate(scores: number[], groups: number[][], rng: Rng): boolean[] {
  const replaced = new Array<boolean>(scores.length).fill(false);
  const p = scores.map((s) => rng.uniform() * sigmoid(s));
  for (const g of groups) {
    const order = [...g].sort((a, b) => p[a] - p[b] || a - b);
    for (const i of order.slice(0, Math.floor(g.length / 2))) replaced[i] = true;
  }
  return replaced;
}

/**
 * Eqs. 4-5 for one RL step: every candidate's update is computed from the scores before
 * the step and the sum is applied. rewardScale divides rewards (1 = the paper's).
 */
export function scoreUpdate(scores: number[], candidates: boolean[][], losses: number[], eta: number, rewardScale = 1): { next: number[]; rewards: number[] } {
  const e = losses.map((l) => Math.exp(-l));
  const mean = e.reduce((a, b) => a + b, 0) / e.length;
  const rewards = e.map((v) => (v - mean) / rewardScale);
  const delta = new Array<number>(scores.length).fill(0);
  candidates.forEach((replaced, j) => {
    for (let i = 0; i < scores.length; i++) {
      if (replaced[i]) continue; // the update is for the kept blocks i ∈ φ_j
      const s = sigmoid(scores[i]);
      delta[i] += eta * rewards[j] * s * (1 - s);
    }
  });
  return { next: scores.map((s, i) => s + delta[i]), rewards };
}

/** The indices of a candidate's replaced blocks (for the training log). */
const replacedBlocks = (replaced: boolean[]): number[] => replaced.flatMap((r, i) => (r ? [i] : []));

/** Runs the model with the candidate's blocks swapped for their harmonizers. */
export function withCandidate<T>(model: CausalLM, harmonizers: Harmonizer[], replaced: boolean[], fn: () => T): T {
  const blocks = model.blocks as ModuleList<Block>;
  const originals: Block[] = [];
  for (let i = 0; i < blocks.length; i++) originals.push(blocks.at(i));
  try {
    replaced.forEach((r, i) => r && blocks.set(i, harmonizers[i]));
    return fn();
  } finally {
    originals.forEach((b, i) => blocks.set(i, b));
  }
}

/** A module holding every harmonizer, so they save, load and optimise as one. */
export class HarmonizerBank extends Module {
  readonly harmonizer: ModuleList<Harmonizer>;
  constructor(n: number, dim: number, rank: number, seed: number) {
    super();
    const rng = new Rng(seed);
    this.harmonizer = new ModuleList(Array.from({ length: n }, () => new Harmonizer(dim, rank, rng)));
  }
}

export interface ImportanceResult {
  scores: number[];
  steps: number;
  harmonizers: HarmonizerBank;
}

/** Running mean and variance of rewards (Welford), for the running-std reward scale. */
export class RunningStd {
  count = 0;
  mean = 0;
  m2 = 0;

  add(x: number): void {
    this.count++;
    const d = x - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (x - this.mean);
  }

  /** The sample standard deviation so far (0 before two values). */
  std(): number {
    return this.count > 1 ? Math.sqrt(this.m2 / (this.count - 1)) : 0;
  }

  toJSON(): { count: number; mean: number; m2: number } {
    return { count: this.count, mean: this.mean, m2: this.m2 };
  }

  static from(o: { count: number; mean: number; m2: number }): RunningStd {
    return Object.assign(new RunningStd(), o);
  }
}

/**
 * The divisor of an RL step's rewards: the running std of all raw rewards so far (this
 * step's included) under 'running_std', else 1 (the paper's unscaled rewards).
 */
export function rewardScale(cfg: Pick<ImportanceConfig, 'rewardScale'>, stats: RunningStd, losses: number[]): number {
  const raw = losses.map((l) => Math.exp(-l));
  const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
  for (const v of raw) stats.add(v - mean);
  const std = stats.std();
  return cfg.rewardScale === 'running_std' && std > 0 ? std : 1;
}

export interface DynamicLayerReplaceOptions {
  /** Resumable state (harmonizers, AdamW, scores, reward statistics) lives here. */
  stateDir?: string;
  resume?: boolean;
  stopAfter?: number;
  /** Every step's record: kind, the replaced blocks (DL) or candidates (RL), loss(es), rewards, scores. */
  onStep?: (entry: Record<string, unknown>) => void;
  onResume?: (step: number) => void;
}

/**
 * Dynamic LayerReplace on token streams D^T (DL steps) and D^V (RL steps), in memory:
 * trains `bank` and returns the scores. Step s is an RL step when (s + 1) is a multiple
 * of dlPerRl + 1. Checkpointing and resume go through the shared training loop.
 */
export function dynamicLayerReplace(model: CausalLM, bank: HarmonizerBank, dT: Int32Array, dV: Int32Array, cfg: ImportanceConfig, opts: DynamicLayerReplaceOptions = {}): { scores: number[]; steps: number; stopped: boolean } {
  const n = model.blocks.length;
  model.requiresGrad(false);
  model.eval();
  const groups = makeGroups(n, cfg.numGroups);
  const harmonizers = [...bank.harmonizer];
  const B = cfg.batchSize, T = cfg.seqLen;
  let scores = new Array<number>(n).fill(0);
  let stats = new RunningStd();
  let entry: Record<string, unknown> = {};
  const isRl = (step: number) => isRlStep(cfg, step);
  const rlStep = (rng: Rng) => {
    const { ids, targets } = randomWindows(dV, B, T, rng);
    const candidates = Array.from({ length: cfg.numCandidates }, () => sampleCandidate(scores, groups, rng));
    const losses = candidates.map((c) => noGrad(() => withCandidate(model, harmonizers, c, () => model.loss(ids, targets, B, T).item())));
    const upd = scoreUpdate(scores, candidates, losses, cfg.eta, rewardScale(cfg, stats, losses));
    scores = upd.next;
    entry.candidates = candidates.map(replacedBlocks);
    entry.losses = losses;
    entry.rewards = upd.rewards;
  };
  const run = trainLoop({
    steps: cfg.steps, seed: cfg.seed, clipNorm: 1.0,
    checkpoint: opts.stateDir ? { dir: opts.stateDir, every: cfg.checkpointEvery } : undefined,
    resume: opts.resume, stopAfter: opts.stopAfter,
  }, {
    optimizer: new AdamW(bank.parameters(), { lr: cfg.lr, weightDecay: 0 }), params: bank.parameters(), stateModule: bank,
    forward: (step, rng) => {
      entry = { step: step + 1, kind: isRl(step) ? 'rl' : 'dl' };
      if (isRl(step)) {
        rlStep(rng);
        return null;
      }
      // DL: only the harmonizers in this candidate get gradients, so only they move.
      const replaced = sampleCandidate(scores, groups, rng);
      entry.replaced = replacedBlocks(replaced);
      const { ids, targets } = randomWindows(dT, B, T, rng);
      return withCandidate(model, harmonizers, replaced, () => model.loss(ids, targets, B, T));
    },
    afterStep: (r) => {
      if (r.loss !== null) entry.loss = r.loss;
      entry.scores = scores.map((s) => Math.round(s * 1e6) / 1e6);
      opts.onStep?.(entry);
    },
    record: () => ({ scores, rewardVar: stats.toJSON() }),
    restore: (rec) => {
      scores = rec.scores as number[];
      stats = RunningStd.from(rec.rewardVar as { count: number; mean: number; m2: number });
    },
    onResume: opts.onResume,
  });
  return { scores, steps: run.steps, stopped: run.stopped };
}

/**
 * Dynamic LayerReplace with its outputs in outDir: training_log.jsonl (every step),
 * harmonizers.safetensors and scores.json when done; resumable from outDir/state.
 */
export function estimateImportance(
  model: CausalLM,
  hidden: number,
  dT: Int32Array,
  dV: Int32Array,
  cfg: ImportanceConfig,
  outDir: string,
  opts: { resume?: boolean; stopAfter?: number; log?: (s: string) => void; progress?: Progress } = {},
): ImportanceResult {
  const log = opts.log ?? (() => {});
  const n = model.blocks.length;
  if (cfg.seqLen > model.maxContext) throw new RangeError(`importance: seqLen ${cfg.seqLen} exceeds the model's context ${model.maxContext}`);
  for (const [name, s] of [['D^T', dT], ['D^V', dV]] as const) {
    if (s.length < cfg.seqLen + 2) throw new RangeError(`importance: ${name} has ${s.length} tokens, fewer than one window of ${cfg.seqLen}`);
  }
  mkdirSync(outDir, { recursive: true });
  // Resuming a run that already finished returns its result (same configuration, same
  // model size) instead of starting over: the state directory is gone once scores.json is written.
  const done = join(outDir, 'scores.json');
  if (opts.resume && existsSync(done)) {
    const prev = JSON.parse(readFileSync(done, 'utf8')) as { config?: ImportanceConfig; blocks?: number };
    if (JSON.stringify(prev.config) === JSON.stringify(cfg) && prev.blocks === n && existsSync(join(outDir, 'harmonizers.safetensors'))) {
      const { scores, bank } = loadImportance(outDir, hidden);
      log(`importance: finished before (${cfg.steps} steps); loaded ${done}`);
      return { scores, steps: cfg.steps, harmonizers: bank };
    }
  }
  const bank = new HarmonizerBank(n, hidden, cfg.rank, cfg.seed);
  const logPath = join(outDir, 'training_log.jsonl');
  const stateDir = join(outDir, 'state');
  if (!opts.resume || !existsSync(join(stateDir, 'state.json'))) rmSync(logPath, { force: true });
  const r = dynamicLayerReplace(model, bank, dT, dV, cfg, {
    stateDir, resume: opts.resume, stopAfter: opts.stopAfter,
    onResume: (step) => {
      cutStepLogAt(logPath, step); // steps logged after the checkpoint are done again
      log(`importance: resuming at step ${step}`);
    },
    onStep: (entry) => {
      appendFileSync(logPath, JSON.stringify(entry) + '\n');
      const step = entry.step as number;
      const scores = entry.scores as number[];
      opts.progress?.({ done: step, total: cfg.steps, text: `scores [${scores.map((s) => s.toFixed(2)).join(' ')}]` });
      if (step % 20 === 0) log(`importance ${step}/${cfg.steps} ${entry.kind === 'rl' ? 'rl' : `dl loss ${(entry.loss as number).toFixed(3)}`} scores [${scores.map((s) => s.toFixed(2)).join(' ')}]`);
    },
  });
  if (r.stopped) {
    log(`importance: stopped after step ${r.steps}; continue with --resume`);
    return { scores: r.scores, steps: r.steps, harmonizers: bank };
  }
  writeSafetensors(join(outDir, 'harmonizers.safetensors'), moduleTensors(bank), { format: 'pt' });
  writeJsonAtomic(join(outDir, 'scores.json'), { scores: r.scores, config: cfg, blocks: n, groups: makeGroups(n, cfg.numGroups) });
  rmSync(stateDir, { recursive: true, force: true });
  return { scores: r.scores, steps: cfg.steps, harmonizers: bank };
}

/** Loads scores.json and harmonizers.safetensors written by estimateImportance. */
export function loadImportance(dir: string, hidden: number): { scores: number[]; config: ImportanceConfig; bank: HarmonizerBank } {
  const path = join(dir, 'scores.json');
  if (!existsSync(path)) throw new Error(`${dir}: no scores.json (run scaleot importance first)`);
  const j = JSON.parse(readFileSync(path, 'utf8')) as { scores: number[]; config: ImportanceConfig };
  if (!Array.isArray(j.scores) || !j.scores.every((s) => Number.isFinite(s))) throw new Error(`${path}: "scores" must be a list of finite numbers`);
  const bank = new HarmonizerBank(j.scores.length, hidden, j.config.rank, 0);
  const st = SafetensorsFile.open(join(dir, 'harmonizers.safetensors'));
  try {
    readModuleTensors(bank, st);
  } finally {
    st.close();
  }
  return { scores: j.scores, config: j.config, bank };
}
