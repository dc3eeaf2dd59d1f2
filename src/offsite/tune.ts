// Offsite tuning on the data owner's side (METHOD.md Stage 3): only the adapter blocks of
// the emulator [A, E*] train, by one of the registered tuners (peft/registry.ts: all their
// weights, LoRA, bottleneck adapters); AdamW over the learning-rate grid, the best chosen
// on validation (Emu FT), resumable. The package is read once and a fresh model is made
// from it in memory for each learning rate. The adapter package returned to the model
// owner holds only A' or the PEFT deltas and a manifest binding it to its emulator and
// source model.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM } from '../models/causal_lm.js';
import type { Parameter } from '../nn/module.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import { readJsonObject } from '../io/checkpoint.js';
import { writeDirectoryAtomic, writeFileAtomic } from '../io/atomic.js';
import { float32Tensors } from '../io/parameters.js';
import { sha256File, sha256Files } from '../io/hash.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { getTuner } from '../peft/registry.js';
import type { Task } from '../data/tasks.js';
import { splitGuard } from '../data/split_guard.js';
import { trainingExamples, trainRun, scoreTask, cachedJson, searchLearningRates, Score, type FinetuneOptions } from '../train/finetune.js';
import { instantiateEmulator, Emulator, EmulatorManifest } from './emulator.js';
import { readEmulatorPackage } from './emulator_package.js';

/** A tuner's name from the registry ("full", "lora", "adapter", or one registered later). */
export type TuneMethod = string;
export const ADAPTER_FORMAT = 'scaleot-adapter/1';

/**
 * Makes the adapter blocks trainable by `method` (everything else frozen) and returns the
 * trainable parameters with the names they are shipped under.
 */
export function prepareAdapters(model: CausalLM, adapters: number[], method: TuneMethod, config?: unknown, seed = 0): { params: Parameter[]; named: () => [string, Parameter][] } {
  const named = getTuner(method).prepare(model, adapters, { seed, config });
  return { params: named.map(([, p]) => p), named: () => named };
}

/**
 * The names and shapes of the parameters prepareAdapters would create on these blocks,
 * read off the model without changing it (what the plug-in expects to receive).
 */
export function adapterParameterShapes(model: CausalLM, adapters: number[], method: TuneMethod, config?: unknown): Map<string, readonly number[]> {
  return getTuner(method).expectedShapes(model, adapters, config);
}

export interface AdapterManifest {
  format: string;
  method: TuneMethod;
  source_fingerprint: string;
  emulator: { manifest_sha256: string; settings: EmulatorManifest['settings'] };
  architecture: string;
  adapter_blocks: number[];
  /** The tuner's own fields (LoRA: {lora: {r, alpha}}). */
  [tunerField: string]: unknown;
  lr: number;
  tensors: Record<string, number[]>; // name -> shape
  files: Record<string, string>;
}

/** Fine-tuning's options (grid, steps, batch, evaluation, resume), plus the tuner. */
export interface TuneOptions extends FinetuneOptions {
  method: TuneMethod;
  /** The tuner's settings (LoRA's {r, alpha}); its defaults otherwise. */
  tunerConfig?: unknown;
}

export interface TuneResult {
  method: TuneMethod;
  runs: { lr: number; validation: Score }[];
  bestLr: number;
  emuZeroShot: { validation: Score; test: Score };
  emuFinetuned: { validation: Score; test: Score };
  adapterDir: string;
}

/** The lr an adapter package was tuned with (its manifest), or null when there is none. */
function adapterLr(dir: string): number | null {
  try {
    return (JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { lr?: number }).lr ?? null;
  } catch {
    return null;
  }
}

/** Writes the adapter package for the tuned parameters (temporary dir, then rename). */
export function writeAdapterPackage(outDir: string, pkg: string, emu: EmulatorManifest, method: TuneMethod, lr: number, named: [string, Parameter][], tunerConfig?: unknown, manifestExtra: Record<string, unknown> = {}): AdapterManifest {
  const tuner = getTuner(method);
  return writeDirectoryAtomic(outDir, (tmp) => {
    const tensors = float32Tensors(named);
    writeSafetensors(join(tmp, 'adapter.safetensors'), tensors, { format: 'pt' });
    const extra = tuner.exportFiles?.(tmp, tensors, { architectureConfig: readJsonObject(join(pkg, 'config.json')), blocks: emu.plan.adapters, config: tunerConfig }) ?? [];
    const manifest: AdapterManifest = {
      format: ADAPTER_FORMAT,
      method,
      source_fingerprint: emu.source.fingerprint,
      emulator: { manifest_sha256: sha256File(join(pkg, 'manifest.json')), settings: emu.settings },
      architecture: emu.source.architecture,
      adapter_blocks: emu.plan.adapters,
      ...(tuner.manifestFields?.(tunerConfig) ?? {}),
      lr,
      ...manifestExtra,
      tensors: Object.fromEntries(tensors.map((t) => [t.name, [...t.shape]])),
      files: sha256Files(tmp, ['adapter.safetensors', ...extra]),
    };
    writeFileSync(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    return manifest;
  });
}

/** A fresh emulator with the adapter package's tuned values in place (as it was when tuned). */
function emulatorWithAdapter(emulator: Emulator, pkg: string, adapterDir: string, opts: TuneOptions): CausalLM {
  const model = instantiateEmulator(emulator, pkg);
  const adapter = readJsonObject(join(adapterDir, 'manifest.json')) as unknown as AdapterManifest;
  const { named } = prepareAdapters(model, adapter.adapter_blocks, opts.method, opts.tunerConfig, opts.seed ?? 0);
  const st = SafetensorsFile.open(join(adapterDir, 'adapter.safetensors'));
  try {
    for (const [name, p] of named()) p.data.set(st.readFloat32(name, true));
  } finally {
    st.close();
  }
  model.requiresGrad(false);
  return model;
}

export function offsiteTune(pkg: string, tasks: { train: Task; validation: Task; test: Task }, outDir: string, opts: TuneOptions): TuneResult {
  const log = opts.log ?? (() => {});
  getTuner(opts.method); // an unknown method fails before any work
  mkdirSync(outDir, { recursive: true });
  const tok = TextTokenizer.fromDir(pkg);
  const { emulator, manifest } = readEmulatorPackage(pkg);
  const emu0 = instantiateEmulator(emulator, pkg);
  const examples = opts.examples ?? trainingExamples(tasks.train, tok, Math.min(opts.seqLen ?? emu0.maxContext, emu0.maxContext));
  const emuZeroShot: TuneResult['emuZeroShot'] = cachedJson(join(outDir, 'emu_zero_shot.json'), () => ({
    validation: scoreTask(emu0, tok, tasks.validation, opts.evalLimit),
    test: splitGuard.during('Emu ZS test', 'evaluation', () => scoreTask(emu0, tok, tasks.test, opts.evalLimit)),
  }));
  const adapterDir = join(outDir, 'adapter');
  const { runs, best } = splitGuard.during(`${opts.method} learning-rate search on the emulator`, 'selection', () => searchLearningRates(
    opts.lrs,
    (lr) => join(outDir, `${opts.method}-lr-${lr}`),
    `${opts.method} `,
    (lr, runDir) => {
      const model = instantiateEmulator(emulator, pkg);
      const { params, named } = prepareAdapters(model, manifest.plan.adapters, opts.method, opts.tunerConfig, opts.seed ?? 0);
      trainRun(model, params, examples, lr, runDir, opts, log);
      const validation = scoreTask(model, tok, tasks.validation, opts.evalLimit);
      log(`${opts.method} lr ${lr}: Emu FT validation ${validation.metric} ${validation.value.toFixed(4)}`);
      return { validation, trained: { model, named } };
    },
    (lr, { named }) => writeAdapterPackage(adapterDir, pkg, manifest, opts.method, lr, named(), opts.tunerConfig),
    log,
    (lr) => adapterLr(adapterDir) === lr,
  ));
  // Emu FT on test, once, for the selected adapter only (re-attached from its package). The
  // file names its lr, so a score of an earlier best (a run interrupted mid-search) is not reused.
  const testPath = join(outDir, 'emu_ft_test.json');
  const saved = existsSync(testPath) ? (JSON.parse(readFileSync(testPath, 'utf8')) as { lr?: number; score?: Score }) : null;
  let emuFtTest = saved?.lr === best.lr ? saved.score : undefined;
  if (!emuFtTest) {
    emuFtTest = splitGuard.during('Emu FT test', 'evaluation', () => scoreTask(emulatorWithAdapter(emulator, pkg, adapterDir, opts), tok, tasks.test, opts.evalLimit));
    writeFileAtomic(testPath, JSON.stringify({ lr: best.lr, score: emuFtTest }, null, 2));
  }
  const emuFinetuned = { validation: best.validation, test: emuFtTest };
  const result: TuneResult = { method: opts.method, runs, bestLr: best.lr, emuZeroShot, emuFinetuned, adapterDir };
  writeFileAtomic(join(outDir, 'results.json'), JSON.stringify(result, null, 2));
  return result;
}
