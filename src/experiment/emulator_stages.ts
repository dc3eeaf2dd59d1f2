// The model owner's two emulator-building stages as cached stages (stages.ts): importance
// estimation (Dynamic LayerReplace, once per seed) and an emulator of a registered method
// with given settings, written as a package in its stage directory. The experiment runner
// and the service's worker build emulators through these, so a stage one computed is
// reused by the other.
import { join } from 'node:path';
import { loadModel } from '../models/load.js';
import { splitGuard } from '../data/split_guard.js';
import { estimateImportance, loadImportance, harmonizerGradientSteps, type ImportanceConfig } from '../offsite/scaleot/importance.js';
import type { EmulatorSettings } from '../offsite/emulator.js';
import { writeEmulatorPackage } from '../offsite/emulator_package.js';
import type { BuildCost, OffsiteMethod } from '../offsite/methods.js';
import type { DistillSpec } from './config.js';
import type { EmulatorSummary } from './results.js';
import { roundHalfEven } from '../util/round.js';
import type { StageCache, StageInfo } from './stages.js';

/** What the two stages need to know about the model owner's model and data. */
export interface EmulatorStageEnv {
  cache: StageCache;
  modelDir: string;
  /** sha256 of the model directory (stage keys). */
  modelHash: string;
  hidden: number;
  numBlocks: number;
  maxContext: number;
  /** Content hashes of D^T and D^V, and their token streams. */
  pretrainHash: { dt: string; dv: string };
  stream: (name: 'dt' | 'dv') => Int32Array;
  importance: ImportanceConfig;
  distill: DistillSpec;
  log: (s: string) => void;
  /** Called after each stage, computed or cached (progress). */
  onStage?: () => void;
  /** Importance stages by seed (filled as they are asked for). */
  importanceStages: Map<number, StageInfo<{ scores: number[] }>>;
}

/** Dynamic LayerReplace with the configured settings and this seed (default: the configured one). */
export function importanceStage(env: EmulatorStageEnv, seed?: number): StageInfo<{ scores: number[] }> {
  const cfg = seed === undefined ? env.importance : { ...env.importance, seed };
  const known = env.importanceStages.get(cfg.seed);
  if (known) return known;
  const stage = env.cache.run('importance', { model: env.modelHash, data: env.pretrainHash, config: cfg }, `importance (seed ${cfg.seed})`, (dir) => {
    env.log(`model owner: Dynamic LayerReplace, ${cfg.steps} steps (η = ${cfg.eta}, harmonizer rank ${cfg.rank}, seed ${cfg.seed})`);
    const r = splitGuard.during('importance', 'selection', () => estimateImportance(loadModel(env.modelDir), env.hidden, env.stream('dt'), env.stream('dv'), cfg, dir, { resume: true }));
    return { scores: r.scores };
  });
  env.importanceStages.set(cfg.seed, stage);
  env.onStage?.();
  env.log(`importance (seed ${cfg.seed}): ${stage.value.scores.map((x) => x.toFixed(2)).join(' ')}`);
  return stage;
}

/**
 * The emulator `method` builds with these settings. `seed` (repeats) sets the importance
 * and distillation seeds; methods that use neither build the same emulator for every seed.
 */
export function emulatorStage(env: EmulatorStageEnv, method: OffsiteMethod, settings: EmulatorSettings, seed?: number): StageInfo<EmulatorSummary> {
  // Equal budgets: as many gradient steps as the harmonizers got, unless the configuration says otherwise.
  const distill = {
    ...env.distill, steps: env.distill.steps ?? harmonizerGradientSteps(env.importance), seqLen: Math.min(env.distill.seqLen, env.maxContext),
    ...(seed === undefined ? {} : { seed }),
  };
  const inputs: Record<string, unknown> = { method: method.name, model: env.modelHash, settings };
  if (method.needs.importance) inputs.importance = importanceStage(env, seed).key;
  if (method.needs.dv) inputs.dv = env.pretrainHash.dv;
  if (method.needs.distill) inputs.distill = { ...env.distill, steps: distill.steps, dt: env.pretrainHash.dt, ...(seed === undefined ? {} : { seed }) };
  const label = `emulator ${method.name} (N_a ${settings.numAdapters}, α ${settings.alpha}, β ${settings.noSrc ? '-' : settings.beta}, ${settings.srcTarget}${seed === undefined ? '' : `, seed ${seed}`})`;
  const stage = env.cache.run('emulator', inputs, label, (dir): EmulatorSummary => {
    const buildCost: BuildCost = { gradientSteps: 0, trainingTokens: 0, forwardTokens: 0 };
    // Building an emulator chooses (importance, CKA, distillation): it may not see a test split.
    const emu = splitGuard.during(label, 'selection', () => method.build({
      recordCost: (c) => {
        for (const k of Object.keys(buildCost) as (keyof BuildCost)[]) buildCost[k] += c[k] ?? 0;
      },
      loadModel: () => loadModel(env.modelDir),
      settings,
      numRemoved: roundHalfEven(settings.alpha * env.numBlocks),
      importance: () => {
        const imp = loadImportance(importanceStage(env, seed).materialize(), env.hidden);
        return { scores: imp.scores, bank: imp.bank, rank: imp.config.rank };
      },
      dT: () => env.stream('dt'),
      dV: () => env.stream('dv'),
      distill,
      workDir: dir,
      log: env.log,
    }));
    const m = writeEmulatorPackage(join(dir, 'package'), emu, env.modelDir);
    return { kind: m.kind, settings: m.settings, roles: m.plan.roles, adapters: m.plan.adapters, parameters: m.parameters, statements: m.statements, buildCost };
  });
  env.onStage?.();
  return stage;
}
