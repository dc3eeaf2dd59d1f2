// What an experiment produces: results.json (format scaleot-experiment/1) and report.html,
// both written atomically. Paths in results.json are relative to the repository, so a
// committed run does not carry the machine it ran on.
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Score } from '../train/finetune.js';
import type { EmulatorManifest, EmulatorSettings } from '../offsite/emulator.js';
import type { ImportanceConfig } from '../offsite/scaleot/importance.js';
import type { BuildCost } from '../offsite/methods.js';
import type { Disclosure } from '../audit/disclosure.js';
import type { RecoveryRun, TuneEverythingResult } from '../audit/audit.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { ExperimentConfig } from './config.js';
import type { ConditionResult } from './conditions.js';
import { renderReport } from './report_html.js';

export const RESULTS_FORMAT = 'scaleot-experiment/1';

export interface SplitScores {
  validation: Score;
  test: Score;
}

/** One repeat of a cell at its chosen learning rate with another seed. */
export interface SeedScores<S> {
  seed: number;
  scores: S;
}

/** The privacy audit of each listed method's default emulator (src/audit). */
export interface AuditAnalysis {
  tasks: string[];
  /** Budgets as fractions of the pre-training tokens, and those tokens. */
  budgets: number[];
  pretrainTokens: number;
  sources: string[];
  /** The model's own scores on what the attacks are scored on: the line to recover. */
  modelReference: Record<string, number>;
  /** The model itself tuned everywhere (trunk included), per audited task: the like-for-like line for tuning an emulator everywhere (absent in older results). */
  modelTuneEverything?: Record<string, TuneEverythingResult>;
  /** Per public source: the emulator's trunk with every block trained from scratch. */
  reference: RecoveryRun[];
  methods: {
    method: string;
    label: string;
    relativeSize: number;
    disclosure: Disclosure;
    tuneEverything: Record<string, TuneEverythingResult>;
    recovery: RecoveryRun[];
  }[];
}

/** Mean and sample standard deviation (0 for a single value). */
export function meanSd(values: number[]): { mean: number; sd: number; n: number } {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, sd, n };
}

/** A cell's scores over its seeds: the selection run first, then the repeats. */
export function acrossSeeds<S>(main: S, seeds: SeedScores<S>[] | undefined): S[] {
  return [main, ...(seeds ?? []).map((x) => x.scores)];
}

export interface TaskResult {
  name: string;
  kind: 'mc' | 'lm';
  metric: Score['metric'];
  evaluation: string;
  zs: SplitScores;
  ft: SplitScores & { bestLr: number; runs: { lr: number; validation: number }[]; seeds?: SeedScores<SplitScores>[] };
}

export interface EmulatorSummary {
  kind: EmulatorManifest['kind'];
  settings: EmulatorSettings;
  roles: string[];
  adapters: number[];
  parameters: EmulatorManifest['parameters'];
  statements: string[];
  /** Training the build did itself (absent in older results). */
  buildCost?: BuildCost;
}

export interface OffsiteScores {
  emuZS: SplitScores;
  emuFT: SplitScores;
  plugin: Score;
  bestLr: number;
  tuneMethod: string;
  trainable: number;
  /** Every lr of the grid with its Emu FT validation score (absent in older results). */
  runs?: { lr: number; validation: number }[];
  /** The cell repeated at bestLr with the configured repeat seeds (absent without them). */
  seeds?: SeedScores<{ emuZS: SplitScores; emuFT: SplitScores; plugin: Score }>[];
}

/** What building an emulator cost the model owner (METHOD.md "Equal budgets"). */
export interface EmulatorCost {
  /** Optimizer steps: harmonizer DL steps (ScaleOT, Dynamic LayerDrop) or distillation steps. */
  gradientSteps: number;
  /** Tokens those steps trained on. */
  trainingTokens: number;
  /** Tokens only scored (RL candidates, CKA samples). */
  forwardTokens: number;
  /** Wall time: the emulator stage plus the importance stage it used. */
  seconds: number;
}

export interface MethodResult {
  method: string;
  label: string;
  emulator: EmulatorSummary;
  /** Absent in older results. */
  cost?: EmulatorCost;
  tasks: Record<string, OffsiteScores>;
}

export interface AnalysisPoint extends OffsiteScores {
  settings: EmulatorSettings;
  relativeSize: number;
}

export interface ExperimentResults {
  format: string;
  name: string;
  command: string;
  commit: string;
  machine: { cpu: string; cores: number; memory_gib: number; node: string; kernels: string; host: string };
  started: string;
  finished: string;
  seconds: number;
  config: ExperimentConfig;
  tasks: TaskResult[];
  importance: { scores: number[]; config: ImportanceConfig; seconds?: number };
  methods: MethodResult[];
  analyses: {
    alphaBeta?: { task: string; alphas: number[]; betas: number[]; points: AnalysisPoint[] };
    srcTargets?: { task: string; betas: number[]; targets: string[]; points: (AnalysisPoint & { target: string })[] };
    numAdapters?: { task: string; values: number[]; points: AnalysisPoint[] };
    peft?: { task: string; rows: AnalysisPoint[] };
    audit?: AuditAnalysis;
  };
  conditions: ConditionResult[];
  /**
   * Stages computed, reused (cache or committed ledger), rebuilt from the ledger for their
   * artifacts, and the labels of rebuilt stages whose recomputed result was not identical to
   * the committed one (another machine's kernels); the last two absent in older results.
   */
  stages: {
    computed: number; cached: number; rebuilt?: number; rebuiltDiffering?: string[];
    /** Sum of the distinct stages' recorded wall times (each as computed, in whichever session): the whole experiment's cost. */
    recordedSeconds?: number;
  };
}


/** The configuration with its paths relative to the repository root (as results.json records it). */
export function withRelativePaths(cfg: ExperimentConfig, root: string): ExperimentConfig {
  const rel = (p: string) => (isAbsolute(p) ? relative(root, p) || '.' : p);
  return {
    ...cfg,
    model: rel(cfg.model),
    tasks: cfg.tasks.map((t) => (t.files ? { ...t, files: { train: rel(t.files.train), validation: rel(t.files.validation), test: rel(t.files.test) } } : t)),
    cacheDir: rel(cfg.cacheDir),
    outDir: rel(cfg.outDir),
    readLedgers: cfg.readLedgers.map(rel),
    ...(cfg.analyses.audit ? { analyses: { ...cfg.analyses, audit: { ...cfg.analyses.audit, public: cfg.analyses.audit.public.map(rel) } } } : {}),
  };
}

/** Writes results.json and report.html into outDir (each atomically); returns their paths. */
export function writeExperimentOutputs(r: ExperimentResults, outDir: string): { results: string; report: string } {
  mkdirSync(outDir, { recursive: true });
  const results = join(outDir, 'results.json'), report = join(outDir, 'report.html');
  writeFileAtomic(results, JSON.stringify(r, null, 2) + '\n');
  writeFileAtomic(report, renderReport(r));
  return { results: resolve(results), report: resolve(report) };
}
