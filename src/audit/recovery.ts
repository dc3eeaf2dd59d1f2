// Part 4 of the privacy audit: how much of the withheld model an attacker recovers by
// training its rebuilt emulator (attacker.ts) as a language model on public text. One run
// per emulator and public source; the budgets are nested (each continues the previous), so
// one training run with evaluations at the budget boundaries gives the whole curve. The
// learning rate is constant after a short warm-up, because the budgets are points on one
// run, not separate runs with their own schedules. Seeded and resumable: the points taken
// so far are part of the checkpoint.
import type { CausalLM } from '../models/causal_lm.js';
import { AdamW } from '../optim/adamw.js';
import { randomWindows } from '../data/streams.js';
import { trainLoop } from '../train/loop.js';
import { noGrad } from '../tensor/autograd.js';
import { initialisedModel } from '../models/load.js';
import type { Emulator } from '../offsite/emulator.js';
import { instantiateEmulator } from '../offsite/emulator.js';

export interface RecoveryOptions {
  /** Token budgets, ascending; 0 scores the starting point. */
  budgets: number[];
  lr: number;
  batchSize: number;
  seqLen: number;
  seed: number;
  warmupSteps?: number;
  /** Resumable state (weights, AdamW, the points so far); absent: not resumable. */
  stateDir?: string;
  checkpointEvery?: number;
  /** Save the state after this many steps and return the points so far (a run in pieces). */
  stopAfter?: number;
  log?: (s: string) => void;
}

export interface RecoveryPoint {
  /** The budget asked for and the tokens actually trained on (whole steps). */
  budget: number;
  tokens: number;
  steps: number;
  scores: Record<string, number>;
}

/** The optimizer step at which a budget is reached. */
export const stepsFor = (tokens: number, batchSize: number, seqLen: number): number => Math.round(tokens / (batchSize * seqLen));

/**
 * Trains `model` (every parameter) on windows of `publicText` and scores it with `evaluate`
 * at each budget. Returns one point per budget.
 */
export function recoveryCurve(model: CausalLM, publicText: Int32Array, opts: RecoveryOptions, evaluate: (m: CausalLM) => Record<string, number>): RecoveryPoint[] {
  const B = opts.batchSize, T = Math.min(opts.seqLen, model.maxContext);
  if (publicText.length < T + 2) throw new RangeError(`recovery: the public text has ${publicText.length} tokens, fewer than one window of ${T}`);
  const budgets = [...opts.budgets];
  if (budgets.some((b, i) => !(b >= 0) || (i > 0 && b <= budgets[i - 1]))) throw new RangeError(`recovery: budgets must be ascending and ≥ 0, got [${budgets}]`);
  const boundary = budgets.map((b) => stepsFor(b, B, T));
  const points: RecoveryPoint[] = [];
  const score = (i: number) => {
    model.eval();
    const scores = noGrad(() => evaluate(model));
    model.train();
    points.push({ budget: budgets[i], tokens: boundary[i] * B * T, steps: boundary[i], scores });
    opts.log?.(`recovery: ${boundary[i] * B * T} tokens (${boundary[i]} steps): ${Object.entries(scores).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}`);
  };
  const params = model.parameters();
  const warmup = opts.warmupSteps ?? Math.min(20, Math.max(1, Math.ceil(boundary[boundary.length - 1] * 0.05)));
  let resumed = false;
  model.train();
  trainLoop({
    steps: boundary[boundary.length - 1], seed: opts.seed, clipNorm: 1.0,
    schedule: (step) => (step < warmup ? (opts.lr * (step + 1)) / warmup : opts.lr),
    checkpoint: opts.stateDir ? { dir: opts.stateDir, every: opts.checkpointEvery ?? 50 } : undefined, resume: !!opts.stateDir, stopAfter: opts.stopAfter,
  }, {
    optimizer: new AdamW(params, { lr: opts.lr, weightDecay: 0 }), params, stateModule: model,
    forward: (step, rng) => {
      if (step === 0 && !resumed) boundary.forEach((s, i) => s === 0 && score(i));
      const { ids, targets } = randomWindows(publicText, B, T, rng);
      return model.loss(ids, targets, B, T);
    },
    afterStep: (r) => boundary.forEach((s, i) => s === r.step && score(i)),
    record: () => ({ points }),
    restore: (rec) => {
      resumed = true;
      points.push(...(rec.points as RecoveryPoint[]));
    },
  });
  // Budgets of 0 steps in a run with no steps at all (every budget below one step).
  if (boundary[boundary.length - 1] === 0) budgets.forEach((_, i) => points.length <= i && score(i));
  model.eval();
  return points;
}

/**
 * The reference an attacker is measured against: the same architecture with only the
 * trunk (embeddings, final norm, head) taken from the emulator and every block trained
 * from scratch on the same public tokens.
 */
export function trunkOnlyModel(emu: Emulator, seed: number): CausalLM {
  const shipped = instantiateEmulator(emu, 'emulator');
  const model = initialisedModel(emu.config, seed, 'emulator/config.json');
  const trunk = new Map(shipped.trunkParameters());
  for (const [name, p] of model.trunkParameters()) p.data.set(trunk.get(name)!.data);
  model.requiresGrad(true);
  return model;
}
