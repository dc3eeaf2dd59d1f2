// What an experiment produces: results.json (format scaleot-experiment/1) and report.html,
// both written atomically. Paths in results.json are relative to the repository, so a
// committed run does not carry the machine it ran on.
import { mkdirSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Score } from '../train/finetune.js';
import type { EmulatorManifest, EmulatorSettings } from '../offsite/emulator.js';
import type { ImportanceConfig } from '../offsite/scaleot/importance.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { ExperimentConfig } from './config.js';
import type { ConditionResult } from './conditions.js';
import { renderReport } from './report_html.js';

export const RESULTS_FORMAT = 'scaleot-experiment/1';

export interface SplitScores {
  validation: Score;
  test: Score;
}

export interface TaskResult {
  name: string;
  kind: 'mc' | 'lm';
  metric: Score['metric'];
  evaluation: string;
  zs: SplitScores;
  ft: SplitScores & { bestLr: number; runs: { lr: number; validation: number }[] };
}

export interface EmulatorSummary {
  kind: EmulatorManifest['kind'];
  settings: EmulatorSettings;
  roles: string[];
  adapters: number[];
  parameters: EmulatorManifest['parameters'];
  statements: string[];
}

export interface OffsiteScores {
  emuZS: SplitScores;
  emuFT: SplitScores;
  plugin: Score;
  bestLr: number;
  tuneMethod: string;
  trainable: number;
}

export interface MethodResult {
  method: string;
  label: string;
  emulator: EmulatorSummary;
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
  };
  conditions: ConditionResult[];
  /** Stages computed, reused (cache or committed ledger), and rebuilt from the ledger for their artifacts (absent in older results). */
  stages: { computed: number; cached: number; rebuilt?: number };
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
