// `scaleot experiment`: every method × task × setting of the paper's tables, and the
// analyses behind its figures, as cached stages (stages.ts). The full model's ZS and FT
// scores, the importance scores, every emulator, every tuning run and every plug-in score
// are computed once per distinct input and reused across methods, analyses and runs.
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, totalmem, hostname } from 'node:os';
import { join } from 'node:path';
import { defaultDataDir, ensureData, BuiltData } from '../data/build.js';
import { loadTask, loadTaskFile, Task } from '../data/tasks.js';
import { jsonlTokenStream } from '../data/streams.js';
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { finetune, scoreTask, trainingExamples, Example, Score } from '../train/finetune.js';
import { estimateImportance, defaultImportanceConfig, ImportanceConfig } from '../offsite/scaleot/importance.js';
import { createEmulator, createBaselineEmulator, sha256File, EmulatorManifest, EmulatorSettings } from '../offsite/emulator.js';
import { offsiteTune, TuneMethod } from '../offsite/tune.js';
import { plugIn, validateAdapter, attachAdapter } from '../offsite/plugin.js';
import { uniformDropPlan } from '../offsite/baselines/uniform_drop.js';
import { crashPlan } from '../offsite/baselines/crash.js';
import { distillKeptBlocks } from '../offsite/baselines/distill.js';
import { hiddenSize } from '../peft/count.js';
import { native } from '../tensor/native.js';
import { roundHalfEven } from '../util/round.js';
import { writeFileAtomic } from '../io/checkpoint.js';
import { ExperimentConfig, MethodName, METHOD_LABELS, TaskSpec } from './config.js';
import { StageCache, hashDirectory } from './stages.js';
import { checkConditions, ConditionResult } from './conditions.js';

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
  tuneMethod: TuneMethod;
  trainable: number;
}

export interface MethodResult {
  method: MethodName;
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
  stages: { computed: number; cached: number };
}

/** Perplexity documents cut to their first `chars` characters, at a white-space boundary. */
export function truncateDocuments(docs: string[], chars: number): string[] {
  const out: string[] = [];
  let left = chars;
  for (const d of docs) {
    if (left <= 0) break;
    if (d.length <= left) {
      out.push(d);
      left -= d.length;
      continue;
    }
    const cut = d.lastIndexOf(' ', left);
    out.push(d.slice(0, cut > 0 ? cut : left));
    break;
  }
  return out;
}

interface LoadedTask {
  spec: TaskSpec;
  splits: { train: Task; validation: Task; test: Task };
  /** Content hashes of the three split files. */
  dataHash: Record<string, string>;
  evaluation: string;
}

function loadTaskSpec(spec: TaskSpec, dataDir: string, data: BuiltData): LoadedTask {
  const splitNames = ['train', 'validation', 'test'] as const;
  const raw = spec.files
    ? Object.fromEntries(splitNames.map((s) => [s, { ...loadTaskFile(spec.files![s]), name: spec.name }]))
    : Object.fromEntries(splitNames.map((s) => [s, loadTask(spec.name, s, dataDir)]));
  const dataHash = Object.fromEntries(splitNames.map((s) => {
    if (spec.files) return [s, sha256File(spec.files[s])];
    const file = Object.keys(data.manifest.files).find((f) => f.startsWith(`${spec.name}/${s}.`));
    if (!file) throw new Error(`data manifest: no file for ${spec.name}/${s}`);
    return [s, data.manifest.files[file].sha256];
  }));
  const cut = (t: Task): Task => {
    if (t.kind === 'mc') return spec.evalLimit ? { ...t, items: t.items.slice(0, spec.evalLimit) } : t;
    return spec.evalChars ? { ...t, documents: truncateDocuments(t.documents, spec.evalChars) } : t;
  };
  const splits = { train: raw.train as Task, validation: cut(raw.validation as Task), test: cut(raw.test as Task) };
  const kind = splits.test.kind;
  const evaluation = kind === 'mc'
    ? `${splits.test.kind === 'mc' ? splits.test.items.length : 0} test items${spec.evalLimit ? ` (first ${spec.evalLimit} of the hashed order)` : ' (all)'}`
    : `${spec.evalChars ? `first ${spec.evalChars.toLocaleString('en-US')} characters of each split` : 'whole split'}, rolling windows`;
  return { spec, splits, dataHash, evaluation };
}

function gitCommit(root: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${sha} (with uncommitted changes)` : sha;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export interface ExperimentOptions {
  root: string;
  resume: boolean;
  command: string;
  dataDir?: string;
  log?: (s: string) => void;
}

export function runExperiment(cfg: ExperimentConfig, opts: ExperimentOptions): ExperimentResults {
  const t0 = Date.now();
  const started = new Date().toISOString();
  const commit = gitCommit(opts.root); // at the start: the code that computes the results
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const step = (s: string) => log(`[${cfg.name} ${Math.round((Date.now() - t0) / 1000)}s] ${s}`);
  const cache = new StageCache(cfg.cacheDir, opts.resume, step);
  const quiet = () => {};

  step('data: building / verifying the offline datasets');
  const dataDir = opts.dataDir ?? defaultDataDir(opts.root);
  const data = ensureData(dataDir, step);
  const modelHash = hashDirectory(cfg.model);
  const tok = TextTokenizer.fromDir(cfg.model);
  const probe = loadModel(cfg.model);
  const hidden = hiddenSize(probe.architecture, probe.hfConfig);
  const n = probe.blocks.length;
  const tasks = cfg.tasks.map((t) => loadTaskSpec(t, dataDir, data));
  const taskByName = new Map(tasks.map((t) => [t.spec.name, t]));
  // Encoding a training split takes seconds (SOTU: 9 MB of text); done once per task and window.
  const encoded = new Map<string, Example[]>();
  const examplesOf = (t: LoadedTask, seqLen: number | undefined): Example[] => {
    const T = Math.min(seqLen ?? probe.maxContext, probe.maxContext);
    const key = `${t.spec.name}\0${T}`;
    if (!encoded.has(key)) encoded.set(key, trainingExamples(t.splits.train, tok, T));
    return encoded.get(key)!;
  };

  // ---- the full model: ZS and FT per task ------------------------------------------
  const taskResults: TaskResult[] = [];
  for (const t of tasks) {
    const ft = cache.run('finetune', { model: modelHash, data: t.dataHash, evalLimit: t.spec.evalLimit, evalChars: t.spec.evalChars, budget: cfg.finetune }, `FT ${t.spec.name}`, (dir) => {
      step(`full model on ${t.spec.name}: ZS, then FT over lrs [${cfg.finetune.lrs}] × ${cfg.finetune.steps} steps`);
      const r = finetune(cfg.model, t.splits, join(dir, 'run'), {
        lrs: cfg.finetune.lrs, steps: cfg.finetune.steps, batchSize: cfg.finetune.batchSize, seqLen: cfg.finetune.seqLen, seed: cfg.finetune.seed, checkpointEvery: 50, log: step,
        examples: examplesOf(t, cfg.finetune.seqLen),
      });
      rmSync(join(dir, 'run', 'best'), { recursive: true, force: true }); // the weights are not needed once scored
      return { zs: r.zeroShot, ft: { validation: r.validation, test: r.test, bestLr: r.bestLr, runs: r.runs.map((x) => ({ lr: x.lr, validation: x.validation.value })) } };
    });
    taskResults.push({ name: t.spec.name, kind: t.splits.test.kind, metric: ft.value.zs.test.metric, evaluation: t.evaluation, zs: ft.value.zs, ft: ft.value.ft });
    step(`${t.spec.name}: ZS ${fmt(ft.value.zs.test)}, FT ${fmt(ft.value.ft.test)}${ft.cached ? ' (cached)' : ''}`);
  }

  // ---- model owner: importance (ScaleOT family) and CKA (CRaSh) ----------------------
  const dtPath = join(dataDir, 'pretrain', 'dt.jsonl'), dvPath = join(dataDir, 'pretrain', 'dv.jsonl');
  const pretrainHash = { dt: data.manifest.files['pretrain/dt.jsonl'].sha256, dv: data.manifest.files['pretrain/dv.jsonl'].sha256 };
  const streamOf = (p: string) => jsonlTokenStream(tok, p, tok.prefixTokenId, 'before');
  const impCfg: ImportanceConfig = {
    ...defaultImportanceConfig(hidden),
    steps: cfg.importance.steps, eta: cfg.importance.eta, batchSize: cfg.importance.batchSize, seqLen: Math.min(cfg.importance.seqLen, probe.maxContext),
    lr: cfg.importance.lr, rewardScale: cfg.importance.rewardScale, seed: cfg.importance.seed,
    ...(cfg.importance.rank ? { rank: cfg.importance.rank } : {}),
  };
  const importance = cache.run('importance', { model: modelHash, data: pretrainHash, config: impCfg }, 'importance', (dir) => {
    step(`model owner: Dynamic LayerReplace, ${impCfg.steps} steps (η = ${impCfg.eta}, harmonizer rank ${impCfg.rank})`);
    const r = estimateImportance(loadModel(cfg.model), hidden, streamOf(dtPath), streamOf(dvPath), impCfg, dir, { resume: true, log: quiet });
    return { scores: r.scores };
  });
  step(`importance: ${importance.value.scores.map((s) => s.toFixed(2)).join(' ')}`);

  const numRemoved = roundHalfEven(cfg.emulator.alpha * n);
  const emulatorSettings = (over: Partial<EmulatorSettings> = {}): EmulatorSettings => ({ ...cfg.emulator, noSrc: false, ...over });

  /** The emulator package of a method (ScaleOT family: any settings). */
  const emulatorStage = (method: MethodName, settings: EmulatorSettings) => {
    const inputs: Record<string, unknown> = { method, model: modelHash, settings };
    if (method === 'scaleot' || method === 'scaleot-no-src' || method === 'dynamic-drop') inputs.importance = importance.key;
    if (method === 'crash') inputs.dv = pretrainHash.dv;
    if (method === 'ot-distill') inputs.distill = { ...cfg.distill, steps: cfg.distill.steps ?? cfg.importance.steps, dt: pretrainHash.dt };
    const label = `emulator ${method} (N_a ${settings.numAdapters}, α ${settings.alpha}, β ${settings.noSrc ? '-' : settings.beta}, ${settings.srcTarget})`;
    return cache.run('emulator', inputs, label, (dir): EmulatorSummary => {
      const pkg = join(dir, 'package');
      let m: EmulatorManifest;
      const removed = roundHalfEven(settings.alpha * n);
      if (method === 'scaleot' || method === 'scaleot-no-src') {
        m = createEmulator(cfg.model, importance.dir, settings, pkg);
      } else if (method === 'dynamic-drop') {
        m = createEmulator(cfg.model, importance.dir, settings, pkg, quiet, { dropHarmonized: true });
      } else if (method === 'crash') {
        const model = loadModel(cfg.model);
        const { plan, cka } = crashPlan(model, streamOf(dvPath), removed);
        writeFileAtomic(join(dir, 'cka.json'), JSON.stringify(cka));
        m = createBaselineEmulator(cfg.model, 'crash', plan, pkg);
      } else {
        m = createBaselineEmulator(cfg.model, 'uniform-drop', uniformDropPlan(n, removed), pkg);
        if (method === 'ot-distill') {
          const steps = cfg.distill.steps ?? cfg.importance.steps;
          step(`OT distillation: ${steps} steps on D^T (kept middle blocks towards the full middle)`);
          m = distillKeptBlocks(cfg.model, pkg, streamOf(dtPath), { ...cfg.distill, steps, seqLen: Math.min(cfg.distill.seqLen, probe.maxContext) }, join(dir, 'distill'), quiet);
        }
      }
      return { kind: m.kind, settings: m.settings, roles: m.plan.roles, adapters: m.plan.adapters, parameters: m.parameters, statements: m.statements };
    });
  };

  /** Tune an emulator's adapters on a task, then plug them into the full model and score. */
  const offsite = (emu: ReturnType<typeof emulatorStage>, t: LoadedTask, method: TuneMethod, label: string): OffsiteScores => {
    const budget = { ...cfg.tune, method };
    const evalSpec = { evalLimit: t.spec.evalLimit, evalChars: t.spec.evalChars };
    const tuned = cache.run('tune', { emulator: emu.key, data: t.dataHash, evalSpec, budget }, `tune ${label} on ${t.spec.name}`, (dir) => {
      step(`data owner: tuning ${label} (${method}) on ${t.spec.name}`);
      const r = offsiteTune(join(emu.dir, 'package'), t.splits, join(dir, 'run'), {
        method, lrs: budget.lrs, steps: budget.steps, batchSize: budget.batchSize, seqLen: budget.seqLen, seed: budget.seed, checkpointEvery: 50, log: step,
        examples: examplesOf(t, budget.seqLen),
      });
      return { emuZS: r.emuZeroShot, emuFT: r.emuFinetuned, bestLr: r.bestLr, adapterDir: r.adapterDir };
    });
    const plugged = cache.run('plugin', { tune: tuned.key, model: modelHash, data: t.dataHash.test, evalSpec }, `plug-in ${label} on ${t.spec.name}`, (dir) => {
      const model = loadModel(cfg.model);
      if (method === 'adapter') {
        // Bottleneck adapters have no place in a plain checkpoint: applied in process.
        const { manifest, tensors } = validateAdapter(model, tuned.value.adapterDir);
        attachAdapter(model, manifest, tensors);
        return { score: scoreTask(model, tok, t.splits.test), trainable: [...tensors.values()].reduce((a, x) => a + x.length, 0) };
      }
      const out = join(dir, 'plugged');
      const { manifest } = plugIn(cfg.model, tuned.value.adapterDir, out);
      const score = scoreTask(loadModel(out), tok, t.splits.test);
      rmSync(out, { recursive: true, force: true }); // a full checkpoint per stage is not worth the disk
      return { score, trainable: Object.values(manifest.tensors).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0) };
    });
    return {
      emuZS: tuned.value.emuZS, emuFT: tuned.value.emuFT, plugin: plugged.value.score, bestLr: tuned.value.bestLr,
      tuneMethod: method, trainable: plugged.value.trainable,
    };
  };

  // ---- the methods table (Table 1) --------------------------------------------------
  const methods: MethodResult[] = [];
  for (const method of cfg.methods) {
    const settings = emulatorSettings(method === 'scaleot-no-src' || method === 'dynamic-drop' ? { noSrc: true } : {});
    const emu = emulatorStage(method, settings);
    step(`${METHOD_LABELS[method]}: adapters [${emu.value.adapters}], ${(100 * emu.value.parameters.relative_size).toFixed(1)}% of the parameters${emu.cached ? ' (cached)' : ''}`);
    const result: MethodResult = { method, label: METHOD_LABELS[method], emulator: emu.value, tasks: {} };
    for (const t of tasks) {
      result.tasks[t.spec.name] = offsite(emu, t, cfg.tune.method, METHOD_LABELS[method]);
      const r = result.tasks[t.spec.name];
      step(`${METHOD_LABELS[method]} on ${t.spec.name}: Emu ZS ${fmt(r.emuZS.test)}, Emu FT ${fmt(r.emuFT.test)}, Plug-in ${fmt(r.plugin)}`);
    }
    methods.push(result);
  }

  // ---- analyses (Figs. 3-5, Table 3) --------------------------------------------------
  const analyses: ExperimentResults['analyses'] = {};
  const point = (settings: EmulatorSettings, taskName: string, method: TuneMethod, label: string): AnalysisPoint => {
    const emu = emulatorStage('scaleot', settings);
    const r = offsite(emu, taskByName.get(taskName)!, method, label);
    return { ...r, settings, relativeSize: emu.value.parameters.relative_size };
  };
  const a = cfg.analyses;
  if (a.alphaBeta) {
    const points: AnalysisPoint[] = [];
    for (const alpha of a.alphaBeta.alphas) for (const beta of a.alphaBeta.betas) {
      points.push(point(emulatorSettings({ alpha, beta }), a.alphaBeta.task, cfg.tune.method, `ScaleOT α=${alpha} β=${beta}`));
    }
    analyses.alphaBeta = { ...a.alphaBeta, points };
  }
  if (a.srcTargets) {
    const points: (AnalysisPoint & { target: string })[] = [];
    for (const target of a.srcTargets.targets) for (const beta of a.srcTargets.betas) {
      points.push({ ...point(emulatorSettings({ beta, srcTarget: target }), a.srcTargets.task, cfg.tune.method, `ScaleOT SRC ${target} β=${beta}`), target });
    }
    analyses.srcTargets = { ...a.srcTargets, points };
  }
  if (a.numAdapters) {
    const points = a.numAdapters.values.map((v) => point(emulatorSettings({ numAdapters: v }), a.numAdapters!.task, cfg.tune.method, `ScaleOT N_a=${v}`));
    analyses.numAdapters = { ...a.numAdapters, points };
  }
  if (a.peft) {
    const rows = a.peft.methods.map((m) => point(emulatorSettings(), a.peft!.task, m, `ScaleOT ${m}`));
    analyses.peft = { task: a.peft.task, rows };
  }

  const results: ExperimentResults = {
    format: RESULTS_FORMAT,
    name: cfg.name,
    command: opts.command,
    commit,
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memory_gib: Math.round(totalmem() / 2 ** 30),
      node: process.version, kernels: native.getKernels(), host: hostname(),
    },
    started,
    finished: new Date().toISOString(),
    seconds: Math.round((Date.now() - t0) / 1000),
    config: cfg,
    tasks: taskResults,
    importance: { scores: importance.value.scores, config: impCfg },
    methods,
    analyses,
    conditions: [],
    stages: { computed: cache.runs.length, cached: cache.hits.length },
  };
  results.conditions = checkConditions(results);
  return results;
}

export function fmt(s: Score): string {
  return s.metric === 'acc' ? `${(100 * s.value).toFixed(1)}%` : `ppl ${s.value.toFixed(1)}`;
}
