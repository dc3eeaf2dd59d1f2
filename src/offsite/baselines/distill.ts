// OT's optional distillation (Xiao et al. 2023; METHOD.md "Baselines"): after uniform
// LayerDrop, the kept middle blocks train so that the emulator's middle reproduces the
// full model's middle. Loss = ||h_E − h_M||² / ||h_M||² (the hidden state entering the
// last two adapter blocks, i.e. the output of the middle) plus the emulator's LM loss,
// on D^T windows, with the same step budget as ScaleOT's importance estimation. Only the
// kept blocks train; adapters and trunk stay as in the full model. The package is then
// rewritten with the distilled kept blocks.
import { join } from 'node:path';
import type { Block, CausalLM } from '../../models/causal_lm.js';
import { loadModel, blockPrefix, hfNameOf } from '../../models/load.js';
import type { ModuleList } from '../../nn/module.js';
import { Tensor, scalar } from '../../tensor/tensor.js';
import { add, mul, sub } from '../../tensor/ops/arithmetic.js';
import { sum } from '../../tensor/ops/reduce.js';
import { backward, noGrad } from '../../tensor/autograd.js';
import { AdamW } from '../../optim/adamw.js';
import { clipGradNorm } from '../../optim/clip.js';
import { cosineWithWarmup } from '../../optim/schedule.js';
import { randomWindows } from '../../data/streams.js';
import { Rng } from '../../util/rng.js';
import { loadTrainState, saveTrainState } from '../../train/state.js';
import { readEmulatorManifest, loadEmulator, createBaselineEmulator, EmulatorManifest } from '../emulator.js';
import type { BaselinePlan } from './uniform_drop.js';
import type { TensorToWrite } from '../../io/safetensors.js';

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
  rec.forward = (x: Tensor, ...rest: unknown[]) => {
    input = x;
    return original.forward(x, ...rest);
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
 * Distils the kept middle blocks of a uniform-LayerDrop package `pkg` (made from
 * `modelDir`) and rewrites the package in place. Resumable from workDir/state.
 */
export function distillKeptBlocks(modelDir: string, pkg: string, dT: Int32Array, cfg: DistillConfig, workDir: string, log: (s: string) => void): EmulatorManifest {
  const manifest = readEmulatorManifest(pkg);
  const kept = manifest.plan.kept ?? [];
  if (manifest.kind !== 'uniform-drop' || kept.length === 0) throw new Error(`${pkg}: distillation needs a uniform-LayerDrop package with kept blocks`);
  const teacher = loadModel(modelDir);
  teacher.requiresGrad(false);
  teacher.eval();
  const { model: student } = loadEmulator(pkg);
  const n = student.blocks.length;
  const middleEnd = n - 2; // the first of the last two adapter blocks receives the middle's output
  student.requiresGrad(false);
  for (const i of kept) student.blocks.at(i).requiresGrad(true);
  const params = kept.flatMap((i) => student.blocks.at(i).parameters());
  const opt = new AdamW(params, { lr: cfg.lr, weightDecay: 0 });
  const saved = loadTrainState(join(workDir, 'state'), student, opt);
  let step = saved ? (saved.step as number) : 0;
  student.train();
  const T = Math.min(cfg.seqLen, student.maxContext);
  for (; step < cfg.steps; step++) {
    const rng = new Rng((cfg.seed ?? 0) * 1_000_003 + step);
    const { ids, targets } = randomWindows(dT, cfg.batchSize, T, rng);
    const target = noGrad(() => capturingInput(teacher, middleEnd, () => teacher.forward(ids, cfg.batchSize, T)).input);
    const tData = target.data;
    let norm = 0;
    for (let k = 0; k < tData.length; k++) norm += tData[k] * tData[k];
    opt.lr = cosineWithWarmup(step, { maxLr: cfg.lr, warmupSteps: Math.ceil(cfg.steps * 0.05), totalSteps: cfg.steps, minLr: cfg.lr * 0.1 });
    opt.zeroGrad();
    const { value: lm, input: h } = capturingInput(student, middleEnd, () => student.loss(ids, targets, cfg.batchSize, T));
    const diff = sub(h, target);
    const mse = mul(sum(mul(diff, diff)), scalar(1 / Math.max(norm, 1e-12)));
    const loss = add(lm, mse);
    backward(loss);
    clipGradNorm(params, 1.0);
    opt.step();
    if ((step + 1) % 50 === 0) log(`distill step ${step + 1}/${cfg.steps}: LM ${lm.item().toFixed(4)}, normalised MSE ${mse.item().toFixed(4)}`);
    if (cfg.checkpointEvery && (step + 1) % cfg.checkpointEvery === 0 && step + 1 < cfg.steps) saveTrainState(join(workDir, 'state'), student, opt, { step: step + 1 });
  }
  student.eval();
  const arch = student.architecture;
  const distilled: TensorToWrite[] = kept.flatMap((i) => student.blocks.at(i).namedParameters().map(([name, p]) => ({
    name: hfNameOf(blockPrefix(arch, i) + name), dtype: 'F32' as const, shape: p.shape, data: p.data as Float32Array,
  })));
  const plan: BaselinePlan = { adapters: manifest.plan.adapters, kept, dropped: manifest.plan.dropped ?? [], shared: {} };
  return createBaselineEmulator(modelDir, 'uniform-drop', plan, pkg, { keptTensors: distilled, note: `kept blocks [${kept}] distilled towards the full model's middle (${cfg.steps} steps on D^T)` });
}
