// The one training loop behind pre-training, fine-tuning, offsite tuning, importance
// estimation (its DL steps) and OT's distillation. What it owns, so that every caller gets
// the same semantics:
//   - per-step seeding: step s draws its batch (and any sampling) from
//     new Rng(seed * 1_000_003 + s), so a resumed run continues bit for bit;
//   - the learning-rate schedule, gradient accumulation over micro-batches, clipping by
//     global norm, the optimizer step;
//   - checkpoints every K steps (weights, AdamW moments and the caller's record, written
//     atomically), resume from the last one, and stopping after N steps (a run in pieces).
// The caller supplies one step's forward pass and whatever it logs after the update.
//   - the precision of matrix products (bf16 mixed precision: tensor/ops/matmul.ts) for the
//     forward and backward passes; master weights, gradients and AdamW stay float32.
// Per-parameter AdamW step counts belong in this loop too when they come.
import type { Tensor } from '../tensor/tensor.js';
import { backward } from '../tensor/autograd.js';
import type { Module, Parameter } from '../nn/module.js';
import type { AdamW } from '../optim/adamw.js';
import { clipGradNorm } from '../optim/clip.js';
import { mulScalar } from '../tensor/ops/arithmetic.js';
import { withBufferScope } from '../tensor/pool.js';
import { trainingPrecision, withMatmulPrecision, type MatmulPrecision } from '../tensor/ops/matmul.js';
import { Rng } from '../util/rng.js';
import { loadTrainState, saveTrainState } from './state.js';

/** The random stream of one step: depends on the seed and the step only (exact resume). */
export function stepRng(seed: number, step: number): Rng {
  return new Rng(seed * 1_000_003 + step);
}

export interface LoopConfig {
  /** Steps in the whole run (also when it is done in pieces). */
  steps: number;
  seed: number;
  /** Global gradient-norm bound over `params`; 0 disables clipping. Default 1. */
  clipNorm?: number;
  /** The learning rate of each step (0-based); without it the optimizer's lr is kept. */
  schedule?: (step: number) => number;
  /** Micro-batches per step, their losses averaged (gradient accumulation). Default 1. */
  accumulate?: number;
  /** Where the resumable state lives, and every how many steps it is written (0: never). */
  checkpoint?: { dir: string; every: number };
  /** Continue from the state in checkpoint.dir if there is one. */
  resume?: boolean;
  /** Save the state after this many steps and return (to be continued with resume). */
  stopAfter?: number;
  /**
   * Matrix products in bf16 (mixed precision) or float32; otherwise trainingPrecision():
   * an enclosing choice, SCALEOT_PRECISION, else bf16 where the CPU has AVX512-BF16.
   */
  precision?: MatmulPrecision;
}

export interface StepReport {
  /** Steps done so far (1-based index of the step just taken). */
  step: number;
  /** The step's loss (mean over micro-batches), or null for a step without an update. */
  loss: number | null;
  /** The gradient norm before clipping, or null when not clipped or no update. */
  gradNorm: number | null;
  lr: number;
}

export interface LoopHooks {
  optimizer: AdamW;
  /** The parameters the optimizer updates (clipped together). */
  params: Parameter[];
  /** What a checkpoint saves besides the optimizer: the trainable module. */
  stateModule: Module;
  /**
   * One micro-batch's forward pass: the loss to backpropagate, or null for a step that
   * makes no update (an RL step of importance estimation).
   */
  forward(step: number, rng: Rng, micro: number): Tensor | null;
  /** After each step: logging, evaluation, the caller's own bookkeeping. */
  afterStep?(r: StepReport): void;
  /** The caller's part of a checkpoint, and how to restore it on resume. */
  record?(): Record<string, unknown>;
  restore?(record: Record<string, unknown>): void;
  /** Told the step a resumed run starts from. */
  onResume?(step: number): void;
}

export interface LoopResult {
  /** The step the loop started from (> 0 after a resume). */
  startStep: number;
  /** Steps done when it returned. */
  steps: number;
  /** True when it stopped early (stopAfter) with its state saved. */
  stopped: boolean;
  /** The precision of the matrix products the steps ran with. */
  precision: MatmulPrecision;
}

/** Runs (or resumes) a training loop; see the file comment for what it guarantees. */
export function trainLoop(cfg: LoopConfig, hooks: LoopHooks): LoopResult {
  const stateDir = cfg.checkpoint?.dir ?? null;
  const save = (done: number) => {
    if (stateDir) saveTrainState(stateDir, hooks.stateModule, hooks.optimizer, { step: done, ...(hooks.record?.() ?? {}) });
  };
  let start = 0;
  if (cfg.resume && stateDir) {
    const saved = loadTrainState(stateDir, hooks.stateModule, hooks.optimizer);
    if (saved) {
      start = saved.step as number;
      hooks.restore?.(saved);
      hooks.onResume?.(start);
    }
  }
  const micro = cfg.accumulate ?? 1;
  const precision = cfg.precision ?? trainingPrecision();
  const clip = cfg.clipNorm ?? 1.0;
  for (let step = start; step < cfg.steps; step++) {
    const rng = stepRng(cfg.seed, step);
    if (cfg.schedule) hooks.optimizer.lr = cfg.schedule(step);
    hooks.optimizer.zeroGrad();
    let loss: number | null = null;
    const pass = () => {
      for (let m = 0; m < micro; m++) {
        const l = hooks.forward(step, rng, m);
        if (!l) continue;
        backward(micro === 1 ? l : mulScalar(l, 1 / micro));
        loss = (loss ?? 0) + l.item() / micro;
      }
    };
    // One buffer scope per step: its op outputs and gradients reuse the previous step's
    // arrays (tensor/pool.ts); only the parameters' gradients outlive it.
    withBufferScope(() => withMatmulPrecision(precision, pass));
    let gradNorm: number | null = null;
    if (loss !== null) {
      if (clip > 0) gradNorm = clipGradNorm(hooks.params, clip);
      hooks.optimizer.step();
    }
    const done = step + 1;
    hooks.afterStep?.({ step: done, loss, gradNorm, lr: hooks.optimizer.lr });
    const every = cfg.checkpoint?.every ?? 0;
    if (every > 0 && done % every === 0 && done < cfg.steps) save(done);
    if (cfg.stopAfter !== undefined && done === cfg.stopAfter && done < cfg.steps) {
      save(done);
      return { startStep: start, steps: done, stopped: true, precision };
    }
  }
  return { startStep: start, steps: cfg.steps, stopped: false, precision };
}
