// OT's optional distillation (Xiao et al. 2023; METHOD.md "Baselines"): after uniform
// LayerDrop, the kept middle blocks train so that the emulator's middle reproduces the
// full model's middle. Loss = ||h_E − h_M||² / ||h_M||² (the hidden state entering the
// top adapter blocks, i.e. the output of the middle) plus the emulator's LM loss, on D^T
// windows, with as many gradient steps as ScaleOT's harmonizers get (its DL steps; the RL
// steps of importance estimation compute no gradient) — METHOD.md "Equal budgets". Only the
// kept blocks train; adapters and trunk stay as in the full model. The package is then
// rewritten with the distilled kept blocks.
import { join } from 'node:path';
import type { Block, BlockContext, CausalLM } from '../../models/causal_lm.js';
import { blockPrefix } from '../../models/causal_lm.js';
import { loadModel } from '../../models/load.js';
import type { ModuleList } from '../../nn/module.js';
import { Tensor, scalar } from '../../tensor/tensor.js';
import { add, mul, sub } from '../../tensor/ops/arithmetic.js';
import { sum } from '../../tensor/ops/reduce.js';
import { noGrad } from '../../tensor/autograd.js';
import { AdamW } from '../../optim/adamw.js';
import { cosineWithWarmup } from '../../optim/schedule.js';
import { randomWindows } from '../../data/streams.js';
import { trainLoop } from '../../train/loop.js';
import { moduleTensors } from '../../io/parameters.js';
import { Emulator, buildBaselineEmulator, instantiateEmulator, EmulatorManifest } from '../emulator.js';
import { readEmulatorPackage, writeEmulatorPackage } from '../emulator_package.js';
import { uniformDropPlan, type BaselinePlan } from './uniform_drop.js';
import type { OffsiteMethod } from '../methods.js';

/** OT's distillation learning rate unless a configuration says otherwise. */
export const DEFAULT_DISTILL_LR = 1e-4;

export interface DistillConfig {
  steps: number;
  lr: number;
  batchSize: number;
  seqLen: number;
  checkpointEvery?: number;
  seed?: number;
}

/** Runs `fn` while block `index` records the hidden state it receives (the middle's output). */
function capturingInput<T>(model: CausalLM, index: number, fn: () => T): { value: T; input: Tensor } {
  const blocks = model.blocks as ModuleList<Block>;
  const original = blocks.at(index);
  let input: Tensor | null = null;
  const rec = Object.create(original) as Block;
  rec.forward = (x: Tensor, ctx?: BlockContext) => {
    input = x;
    return original.forward(x, ctx);
  };
  blocks.set(index, rec);
  try {
    const value = fn();
    if (!input) throw new Error(`distillation: block ${index} was not reached`);
    return { value, input };
  } finally {
    blocks.set(index, original);
  }
}

/**
 * Distils the kept middle blocks of a uniform-LayerDrop emulator made from `teacher` (the
 * full model, unchanged) and returns the emulator with the trained kept blocks. Resumable
 * from stateDir.
 */
export function distillEmulator(teacher: CausalLM, emu: Emulator, dT: Int32Array, cfg: DistillConfig, stateDir: string, log: (s: string) => void = () => {}): Emulator {
  const d = emu.description;
  const kept = d.plan.kept ?? [];
  if (d.kind !== 'uniform-drop' || kept.length === 0) throw new Error('distillation needs a uniform-LayerDrop emulator with kept blocks');
  teacher.requiresGrad(false);
  teacher.eval();
  const student = instantiateEmulator(emu);
  // The first top adapter receives the middle's output.
  const middleEnd = d.plan.adapters.find((i) => i > Math.max(...kept));
  if (middleEnd === undefined) throw new Error('distillation needs at least one adapter above the middle (N_a ≥ 2)');
  student.requiresGrad(false);
  for (const i of kept) student.blocks.at(i).requiresGrad(true);
  const params = kept.flatMap((i) => student.blocks.at(i).parameters());
  const T = Math.min(cfg.seqLen, student.maxContext), B = cfg.batchSize;
  let parts = { lm: 0, mse: 0 };
  student.train();
  trainLoop({
    steps: cfg.steps, seed: cfg.seed ?? 0,
    schedule: (step) => cosineWithWarmup(step, { maxLr: cfg.lr, warmupSteps: Math.ceil(cfg.steps * 0.05), totalSteps: cfg.steps, minLr: cfg.lr * 0.1 }),
    checkpoint: { dir: stateDir, every: cfg.checkpointEvery ?? 0 }, resume: true,
  }, {
    optimizer: new AdamW(params, { lr: cfg.lr, weightDecay: 0 }), params, stateModule: student,
    forward: (_step, rng) => {
      const { ids, targets } = randomWindows(dT, B, T, rng);
      const target = noGrad(() => capturingInput(teacher, middleEnd, () => teacher.forward(ids, B, T)).input);
      let norm = 0;
      for (let k = 0; k < target.data.length; k++) norm += target.data[k] * target.data[k];
      const { value: lm, input: h } = capturingInput(student, middleEnd, () => student.loss(ids, targets, B, T));
      const diff = sub(h, target);
      const mse = mul(sum(mul(diff, diff)), scalar(1 / Math.max(norm, 1e-12)));
      parts = { lm: lm.item(), mse: mse.item() };
      return add(lm, mse);
    },
    afterStep: (r) => {
      if (r.step % 50 === 0) log(`distill step ${r.step}/${cfg.steps}: LM ${parts.lm.toFixed(4)}, normalised MSE ${parts.mse.toFixed(4)}`);
    },
  });
  student.eval();
  const spec = student.spec;
  const distilled = kept.flatMap((i) => moduleTensors(student.blocks.at(i), (name) => spec.hfName(blockPrefix(spec, i) + name)));
  const plan: BaselinePlan = { adapters: d.plan.adapters, kept, dropped: d.plan.dropped ?? [], shared: {} };
  return buildBaselineEmulator(teacher, 'uniform-drop', plan, { keptTensors: distilled, note: `kept blocks [${kept}] distilled towards the full model's middle (${cfg.steps} steps on D^T)` });
}

/**
 * Distils the kept middle blocks of a uniform-LayerDrop package `pkg` (made from
 * `modelDir`) and rewrites the package in place. Resumable from workDir/state.
 */
export function distillKeptBlocks(modelDir: string, pkg: string, dT: Int32Array, cfg: DistillConfig, workDir: string, log: (s: string) => void): EmulatorManifest {
  const { emulator } = readEmulatorPackage(pkg);
  const teacher = loadModel(modelDir);
  return writeEmulatorPackage(pkg, distillEmulator(teacher, emulator, dT, cfg, join(workDir, 'state'), log), modelDir);
}

/** OT + distillation in the method registry: OT's emulator, kept blocks distilled on D^T. */
export const otDistillMethod: OffsiteMethod = {
  name: 'ot-distill',
  label: 'OT + distillation',
  needs: { dt: true, distill: true },
  settings: (base) => ({ ...base, noSrc: false }),
  build: (ctx) => {
    const model = ctx.loadModel();
    const ot = buildBaselineEmulator(model, 'uniform-drop', uniformDropPlan(model.blocks.length, ctx.numRemoved, ctx.settings.numAdapters));
    ctx.log(`OT distillation: ${ctx.distill.steps} steps on D^T (kept middle blocks towards the full middle)`);
    ctx.recordCost({ gradientSteps: ctx.distill.steps, trainingTokens: ctx.distill.steps * ctx.distill.batchSize * Math.min(ctx.distill.seqLen, model.maxContext) });
    return distillEmulator(model, ot, ctx.dT(), ctx.distill, join(ctx.workDir, 'distill', 'state'));
  },
};
