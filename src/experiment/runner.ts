// `scaleot experiment`: every method × task × setting of the paper's tables, and the
// analyses behind its figures, as cached stages (stages.ts). The full model's ZS and FT
// scores, the importance scores, every emulator, every tuning run and every plug-in score
// are computed once per distinct input and reused across methods, analyses and runs.
// The methods come from the offsite-tuning registry (offsite/methods.ts) and the tuning
// methods from the tuner registry (peft/registry.ts); nothing here names a method.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { cpus, totalmem, hostname } from 'node:os';
import { basename, join } from 'node:path';
import { defaultDataDir, ensureData, BuiltData } from '../data/build.js';
import { jsonlTokenStream } from '../data/streams.js';
import { splitGuard } from '../data/split_guard.js';
import { loadModel } from '../models/load.js';
import type { CausalLM } from '../models/causal_lm.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { finetune, scoreTask, trainingExamples, extendLrGridUpward, extendLrGridDownward, Example, Score } from '../train/finetune.js';
import { defaultImportanceConfig, harmonizerGradientSteps, ImportanceConfig } from '../offsite/scaleot/importance.js';
import type { EmulatorSettings } from '../offsite/emulator.js';
import { readEmulatorPackage } from '../offsite/emulator_package.js';
import { disclosure } from '../audit/disclosure.js';
import { attackModel, type RebuildInit } from '../audit/attacker.js';
import { auditEvaluator, recoveryRun, tuneEverything, type RecoveryRun, type TuneEverythingResult } from '../audit/audit.js';
import { auditCorpus, defaultCorpusLocations, pretrainingTexts, type PretrainingTexts } from '../data/corpus.js';
import { noGrad } from '../tensor/autograd.js';
import { getMethod, OffsiteMethod } from '../offsite/methods.js';
import { offsiteTune } from '../offsite/tune.js';
import { plugIn, validateAdapter, attachAdapter } from '../offsite/plugin.js';
import { getTuner } from '../peft/registry.js';
import { modelIdentity, sha256File } from '../io/hash.js';
import { native } from '../tensor/native.js';
import { withMatmulPrecision } from '../tensor/ops/matmul.js';
import type { Progress } from '../util/progress.js';
import type { AuditSpec, ExperimentConfig } from './config.js';
import { StageCache, StageInfo } from './stages.js';
import { emulatorStage, importanceStage, type EmulatorStageEnv } from './emulator_stages.js';
import { checkConditions } from './conditions.js';
import { loadTaskSpec, LoadedTask } from './tasks.js';
import {
  RESULTS_FORMAT, AnalysisPoint, AuditAnalysis, EmulatorCost, EmulatorSummary, ExperimentResults, MethodResult, OffsiteScores, TaskResult, withRelativePaths,
} from './results.js';

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
  /** Stage-by-stage log lines; silent by default. */
  log?: (s: string) => void;
  /** Stages done out of those planned (cached ones count as done). */
  progress?: Progress;
}

export function fmt(s: Score): string {
  return s.metric === 'acc' ? `${(100 * s.value).toFixed(1)}%` : `ppl ${s.value.toFixed(1)}`;
}

/** One experiment's shared state: the cache, the data, the model's identity, the tasks. */
class ExperimentRun {
  private readonly t0 = Date.now();
  private readonly cache: StageCache;
  private readonly data: BuiltData;
  private readonly dataDir: string;
  private readonly modelHash: string;
  private readonly tok: TextTokenizer;
  private readonly hidden: number;
  private readonly numBlocks: number;
  private readonly maxContext: number;
  readonly tasks: LoadedTask[];
  private readonly encoded = new Map<string, Example[]>();
  /** Distinct stages the main table took, once it is done (progress counts them instead of estimating). */
  private mainTableStages: number | null = null;
  private readonly pretrainHash: { dt: string; dv: string };
  private readonly pretraining: PretrainingTexts;
  readonly impCfg: ImportanceConfig;
  private readonly stageEnv: EmulatorStageEnv;

  constructor(readonly cfg: ExperimentConfig, readonly opts: ExperimentOptions) {
    this.cache = new StageCache(cfg.cacheDir, opts.resume, (s) => this.step(s), { ledgerDir: join(cfg.outDir, 'stages'), readLedgers: cfg.readLedgers, precision: cfg.precision });
    this.step('data: building / verifying the offline datasets');
    this.dataDir = opts.dataDir ?? defaultDataDir(opts.root);
    this.data = ensureData(this.dataDir, (s) => this.step(s));
    this.modelHash = modelIdentity(cfg.model);
    this.tok = TextTokenizer.fromDir(cfg.model);
    const probe = loadModel(cfg.model);
    this.hidden = probe.spec.hiddenSize;
    this.numBlocks = probe.blocks.length;
    this.maxContext = probe.maxContext;
    this.tasks = cfg.tasks.map((t) => loadTaskSpec(t, this.dataDir, this.data));
    this.pretraining = pretrainingTexts(cfg.model, defaultCorpusLocations(opts.root), this.data, (s) => this.step(s));
    this.pretrainHash = { dt: this.pretraining.dt.sha256, dv: this.pretraining.dv.sha256 };
    this.impCfg = {
      ...defaultImportanceConfig(this.hidden),
      numGroups: cfg.emulator.numGroups, // the plan's groups are the groups candidates are sampled in
      steps: cfg.importance.steps, eta: cfg.importance.eta, batchSize: cfg.importance.batchSize, seqLen: Math.min(cfg.importance.seqLen, this.maxContext),
      lr: cfg.importance.lr, rewardScale: cfg.importance.rewardScale, seed: cfg.importance.seed,
      ...(cfg.importance.rank ? { rank: cfg.importance.rank } : {}),
    };
    this.stageEnv = {
      cache: this.cache, modelDir: cfg.model, modelHash: this.modelHash, hidden: this.hidden, numBlocks: this.numBlocks, maxContext: this.maxContext,
      pretrainHash: this.pretrainHash, stream: (name) => this.streamOf(name), importance: this.impCfg, distill: cfg.distill,
      log: (s) => this.step(s), onStage: () => this.stageDone(), importanceStages: new Map(),
    };
  }

  step(s: string): void {
    this.opts.log?.(`[${this.cfg.name} ${Math.round((Date.now() - this.t0) / 1000)}s] ${s}`);
  }

  private stageDone(): void {
    // Distinct stages: a stage looked up again (a shared emulator, a rebuilt artifact) counts once.
    const { done, free } = this.cache.distinctStages();
    // The plan is an estimate (grid extensions add stages): never show more done than planned.
    this.opts.progress?.({ done, free, total: Math.max(done, this.plannedStages()), text: '' });
  }

  /**
   * An estimate of the stages this configuration needs (for progress only). Once the main
   * table is done its stages are counted, not estimated (cached cells, lr extensions and
   * shared emulators make the estimate of that part loose), and only the analyses are.
   */
  plannedStages(): number {
    const a = this.cfg.analyses;
    const points = (a.alphaBeta ? a.alphaBeta.alphas.length * a.alphaBeta.betas.length : 0) + (a.srcTargets ? a.srcTargets.targets.length * a.srcTargets.betas.length : 0)
      + (a.numAdapters?.values.length ?? 0) + (a.peft?.methods.length ?? 0);
    const au = a.audit;
    // Tuning everything per (owner, task): one stage, or at least two when it steps the lr down; the model is tuned too.
    const tunes = au ? au.tasks.length * (au.tuneLr === 'main-then-lower' ? 2 : 1) : 0;
    const audit = au ? 1 + tunes + au.public.length + au.methods.reduce((n, m) => n + 1 + tunes + au.public.length * (au.nearestFor.includes(m) ? 2 : 1), 0) : 0;
    const analyses = 3 * points + audit;
    if (this.mainTableStages !== null) return this.mainTableStages + analyses;
    const seeds = 1 + this.cfg.repeatSeeds.length;
    const cells = (method?: string) => this.tasks.filter((t) => !method || this.runsOn(t, method))
      .reduce((n, t) => n + 1 + this.repeatSeedsOf(t).length, 0); // (task, seed) pairs
    return cells() + seeds + this.cfg.methods.reduce((n, m) => n + seeds + 2 * cells(m), 0) + analyses;
  }

  /** Encoding a training split takes seconds (SOTU: 9 MB of text): once per task and window. */
  private examplesOf(t: LoadedTask, seqLen: number | undefined): Example[] {
    const T = Math.min(seqLen ?? this.maxContext, this.maxContext);
    const key = `${t.spec.name}\0${T}`;
    if (!this.encoded.has(key)) this.encoded.set(key, trainingExamples(t.splits.train, this.tok, T));
    return this.encoded.get(key)!;
  }

  private streamOf(name: 'dt' | 'dv'): Int32Array {
    return jsonlTokenStream(this.tok, this.pretraining[name].path, this.tok.prefixTokenId, 'before');
  }

  /** One FT stage: the grid (selection seed) or a repeat at the chosen lr with another seed. */
  private finetuneStage(t: LoadedTask, budget: ExperimentConfig['finetune'], note = ''): StageInfo<Pick<TaskResult, 'zs' | 'ft'>> {
    const { cfg } = this;
    const stage = this.cache.run('finetune', { model: this.modelHash, data: t.dataHash, evalLimit: t.spec.evalLimit, evalChars: t.spec.evalChars, budget }, `FT ${t.spec.name} (seed ${budget.seed})${note}`, (dir) => {
      this.step(`full model on ${t.spec.name}: ZS, then FT over lrs [${budget.lrs}] × ${budget.steps} steps, seed ${budget.seed}`);
      const r = finetune(cfg.model, t.splits, join(dir, 'run'), {
        lrs: budget.lrs, steps: budget.steps, batchSize: budget.batchSize, seqLen: budget.seqLen, seed: budget.seed, checkpointEvery: 50, log: (s) => this.step(s),
        examples: this.examplesOf(t, budget.seqLen),
      });
      rmSync(join(dir, 'run', 'best'), { recursive: true, force: true }); // the weights are not needed once scored
      return { zs: r.zeroShot, ft: { validation: r.validation, test: r.test, bestLr: r.bestLr, runs: r.runs.map((x) => ({ lr: x.lr, validation: x.validation.value })) } };
    });
    this.stageDone();
    return stage;
  }

  /** The seeds a task's main-table cells are repeated with (none unless repeatTasks names it). */
  private repeatSeedsOf(t: LoadedTask): number[] {
    return this.cfg.repeatTasks.includes(t.spec.name) ? this.cfg.repeatSeeds : [];
  }

  /** Whether a method's offsite cells run on a task (a task's `methods` narrows them). */
  private runsOn(t: LoadedTask, method: string): boolean {
    return t.spec.methods?.includes(method) ?? true;
  }

  /** The full model on one task: ZS, then FT over the grid (selected on validation), then the repeat seeds at that lr. */
  fullModel(t: LoadedTask): TaskResult {
    const { cfg } = this;
    // Selected on FT validation, the grid extended upward while its largest lr wins.
    const asRun = (stage: StageInfo<Pick<TaskResult, 'zs' | 'ft'>>) => ({ best: { lr: stage.value.ft.bestLr, validation: stage.value.ft.validation }, value: stage });
    const grid = this.finetuneStage(t, cfg.finetune);
    const { value: chosen, extensions } = extendLrGridUpward({ lrs: cfg.finetune.lrs, ...asRun(grid) }, (lr) => asRun(this.finetuneStage(t, { ...cfg.finetune, lrs: [lr] }, ` (grid extended to lr ${lr})`)));
    const ft = { ...chosen, value: { zs: grid.value.zs, ft: { ...chosen.value.ft, runs: [...grid.value.ft.runs, ...extensions.map((x) => ({ lr: x.lr, validation: x.validation.value }))] } } };
    const seeds = this.repeatSeedsOf(t).map((seed) => {
      const r = this.finetuneStage(t, { ...cfg.finetune, lrs: [ft.value.ft.bestLr], seed });
      return { seed, scores: { validation: r.value.ft.validation, test: r.value.ft.test } };
    });
    this.step(`${t.spec.name}: ZS ${fmt(ft.value.zs.test)}, FT ${fmt(ft.value.ft.test)}${ft.cached ? ' (cached)' : ''}`);
    return {
      name: t.spec.name, kind: t.splits.validation.kind, metric: ft.value.zs.test.metric, evaluation: t.evaluation, zs: ft.value.zs,
      ft: { ...ft.value.ft, ...(seeds.length ? { seeds } : {}) },
    };
  }

  /** The model owner's Dynamic LayerReplace (computed once per seed, used by every method that needs it). */
  importanceStage(seed?: number): StageInfo<{ scores: number[] }> {
    return importanceStage(this.stageEnv, seed);
  }

  /** The emulator a method builds with these settings (emulator_stages.ts). */
  emulatorStage(method: OffsiteMethod, settings: EmulatorSettings, seed?: number): StageInfo<EmulatorSummary> {
    return emulatorStage(this.stageEnv, method, settings, seed);
  }

  /**
   * Tune an emulator's adapters on a task, then plug them into the full model and score.
   * `repeat` runs one chosen lr with another seed instead of the grid.
   */
  offsite(emu: StageInfo<EmulatorSummary>, t: LoadedTask, tuneMethod: string, label: string, repeat?: { lr: number; seed: number }, lrs?: number[]): OffsiteScores {
    const budget = { ...this.cfg.tune, method: tuneMethod, ...(lrs ? { lrs } : {}), ...(repeat ? { lrs: [repeat.lr], seed: repeat.seed } : {}) };
    if (repeat) label = `${label} seed ${repeat.seed}`;
    const evalSpec = { evalLimit: t.spec.evalLimit, evalChars: t.spec.evalChars };
    const tuneAt = (lrs: number[], stageLabel: string) => {
      const b = { ...budget, lrs };
      const stage = this.cache.run('tune', { emulator: emu.key, data: t.dataHash, evalSpec, budget: b }, `tune ${stageLabel} on ${t.spec.name}`, (dir) => {
        this.step(`data owner: tuning ${stageLabel} (${tuneMethod}) on ${t.spec.name}`);
        const r = offsiteTune(join(emu.materialize(), 'package'), t.splits, join(dir, 'run'), {
          method: tuneMethod, lrs: b.lrs, steps: b.steps, batchSize: b.batchSize, seqLen: b.seqLen, seed: b.seed, checkpointEvery: 50, log: (s) => this.step(s),
          examples: this.examplesOf(t, b.seqLen),
        });
        return { emuZS: r.emuZeroShot, emuFT: r.emuFinetuned, bestLr: r.bestLr, runs: r.runs.map((x) => ({ lr: x.lr, validation: x.validation.value })) };
      });
      this.stageDone();
      return { best: { lr: stage.value.bestLr, validation: stage.value.emuFT.validation }, value: stage };
    };
    // Selected on Emu FT validation, the grid extended upward while its largest lr wins.
    const grid = tuneAt(budget.lrs, label);
    const { value: tuned, extensions } = extendLrGridUpward({ lrs: budget.lrs, ...grid }, (lr) => tuneAt([lr], `${label} (grid extended to lr ${lr})`));
    const plugged = this.cache.run('plugin', { tune: tuned.key, model: this.modelHash, data: t.dataHash.test, evalSpec }, `plug-in ${label} on ${t.spec.name}`,
      (dir) => splitGuard.during(`Plug-in ${label} on ${t.spec.name}`, 'evaluation', () => this.pluginScore(join(tuned.materialize(), 'run', 'adapter'), t, dir)));
    this.stageDone();
    return {
      emuZS: tuned.value.emuZS, emuFT: tuned.value.emuFT, plugin: plugged.value.score, bestLr: tuned.value.bestLr,
      tuneMethod, trainable: plugged.value.trainable, runs: [...grid.value.value.runs, ...extensions.map((x) => ({ lr: x.lr, validation: x.validation.value }))],
    };
  }

  /** Plug-in on the test split: merged into a checkpoint, or attached in process when the tuner cannot merge. */
  private pluginScore(adapterDir: string, t: LoadedTask, dir: string): { score: Score; trainable: number } {
    const model = loadModel(this.cfg.model);
    const { manifest, tensors } = validateAdapter(model, adapterDir);
    if (!getTuner(manifest.method).merge) {
      attachAdapter(model, manifest, tensors);
      return { score: scoreTask(model, this.tok, t.splits.test), trainable: [...tensors.values()].reduce((a, x) => a + x.length, 0) };
    }
    const out = join(dir, 'plugged');
    plugIn(this.cfg.model, adapterDir, out);
    const score = scoreTask(loadModel(out), this.tok, t.splits.test);
    rmSync(out, { recursive: true, force: true }); // a full checkpoint per stage is not worth the disk
    return { score, trainable: Object.values(manifest.tensors).reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0) };
  }

  /** The model owner's cost of an emulator: its build plus the importance estimation it used. */
  private emulatorCost(method: OffsiteMethod, emu: StageInfo<EmulatorSummary>): EmulatorCost {
    const b = emu.value.buildCost ?? { gradientSteps: 0, trainingTokens: 0, forwardTokens: 0 };
    const cost = { ...b, seconds: emu.seconds };
    if (method.needs.importance) {
      const c = this.impCfg, tokens = c.batchSize * c.seqLen;
      const dl = harmonizerGradientSteps(c);
      cost.gradientSteps += dl;
      cost.trainingTokens += dl * tokens;
      cost.forwardTokens += (c.steps - dl) * c.numCandidates * tokens;
      cost.seconds += this.importanceStage().seconds;
    }
    cost.seconds = Math.round(cost.seconds * 10) / 10;
    return cost;
  }

  /** Table 1: every method of the configuration on every task. */
  methodsTable(): MethodResult[] {
    return this.cfg.methods.map((name) => {
      const method = getMethod(name);
      const emu = this.emulatorStage(method, method.settings({ ...this.cfg.emulator, noSrc: false }));
      this.step(`${method.label}: adapters [${emu.value.adapters}], ${(100 * emu.value.parameters.relative_size).toFixed(1)}% of the parameters${emu.cached ? ' (cached)' : ''}`);
      const result: MethodResult = { method: name, label: method.label, emulator: emu.value, cost: this.emulatorCost(method, emu), tasks: {} };
      for (const t of this.tasks.filter((x) => this.runsOn(x, name))) {
        const r = (result.tasks[t.spec.name] = this.offsite(emu, t, this.cfg.tune.method, method.label));
        this.step(`${method.label} on ${t.spec.name}: Emu ZS ${fmt(r.emuZS.test)}, Emu FT ${fmt(r.emuFT.test)}, Plug-in ${fmt(r.plugin)}`);
      }
      // Repeats: each seed builds its own emulator (importance / distillation seed) and tunes at the chosen lr.
      for (const seed of this.cfg.repeatSeeds) {
        const emuSeed = this.emulatorStage(method, method.settings({ ...this.cfg.emulator, noSrc: false }), seed);
        for (const t of this.tasks.filter((x) => this.runsOn(x, name) && this.repeatSeedsOf(x).includes(seed))) {
          const cell = result.tasks[t.spec.name];
          const r = this.offsite(emuSeed, t, this.cfg.tune.method, method.label, { lr: cell.bestLr, seed });
          (cell.seeds ??= []).push({ seed, scores: { emuZS: r.emuZS, emuFT: r.emuFT, plugin: r.plugin } });
        }
      }
      return result;
    });
  }

  /**
   * One point of an analysis: ScaleOT with these settings on one task. With `analyses.lr`
   * "main", a point tuned like the main table is tuned at the lr ScaleOT's main cell chose
   * on that task (on Emu FT validation) instead of searching the grid again: a stated cut
   * of the run's cost. Other tuners (the PEFT rows) always search the grid.
   */
  private point(over: Partial<EmulatorSettings>, taskName: string, tuneMethod: string, label: string, main: MethodResult[]): AnalysisPoint {
    const scaleot = getMethod('scaleot');
    const settings = scaleot.settings({ ...this.cfg.emulator, noSrc: false, ...over });
    const emu = this.emulatorStage(scaleot, settings);
    const chosen = main.find((m) => m.method === 'scaleot')?.tasks[taskName]?.bestLr;
    const lrs = this.cfg.analyses.lr === 'main' && tuneMethod === this.cfg.tune.method && chosen !== undefined ? [chosen] : undefined;
    const r = this.offsite(emu, this.tasks.find((t) => t.spec.name === taskName)!, tuneMethod, label, undefined, lrs);
    return { ...r, settings, relativeSize: emu.value.parameters.relative_size };
  }

  /** The analyses behind Figs. 3-5 and Table 3 (ScaleOT over its settings). */
  analyses(main: MethodResult[], full: TaskResult[]): ExperimentResults['analyses'] {
    this.mainTableStages = this.cache.distinctStages().done;
    const a = this.cfg.analyses, m = this.cfg.tune.method;
    const out: ExperimentResults['analyses'] = {};
    if (a.alphaBeta) {
      const { task, alphas, betas } = a.alphaBeta;
      out.alphaBeta = { ...a.alphaBeta, points: alphas.flatMap((alpha) => betas.map((beta) => this.point({ alpha, beta }, task, m, `ScaleOT α=${alpha} β=${beta}`, main))) };
    }
    if (a.srcTargets) {
      const { task, targets, betas } = a.srcTargets;
      out.srcTargets = { ...a.srcTargets, points: targets.flatMap((target) => betas.map((beta) => ({ ...this.point({ beta, srcTarget: target }, task, m, `ScaleOT SRC ${target} β=${beta}`, main), target }))) };
    }
    if (a.numAdapters) {
      const { task, values } = a.numAdapters;
      out.numAdapters = { ...a.numAdapters, points: values.map((v) => this.point({ numAdapters: v }, task, m, `ScaleOT N_a=${v}`, main)) };
    }
    if (a.peft) out.peft = { task: a.peft.task, rows: a.peft.methods.map((tm) => this.point({}, a.peft!.task, tm, `ScaleOT ${tm}`, main)) };
    if (a.audit) out.audit = this.audit(a.audit, main, full);
    return out;
  }

  /** The model's pre-training tokens: from the configuration, else the model's pretraining.json. */
  private pretrainTokens(spec: AuditSpec): number {
    if (spec.pretrainTokens) return spec.pretrainTokens;
    const path = join(this.cfg.model, 'pretraining.json');
    if (!existsSync(path)) throw new Error(`analyses.audit: ${path} does not exist; give analyses.audit.pretrainTokens (the tokens the model was pre-trained on)`);
    return (JSON.parse(readFileSync(path, 'utf8')) as { tokens: number }).tokens;
  }

  /**
   * The privacy audit of each listed method's default emulator (the main table's): its
   * disclosure, tuning everything on each audit task with the offsite-tuning budget, and
   * recovery curves per public text (src/audit). Every piece is a cached stage.
   */
  private audit(spec: AuditSpec, main: MethodResult[], full: TaskResult[]): AuditAnalysis {
    const { cfg } = this;
    const pretrainTokens = this.pretrainTokens(spec);
    const budgets = [0, ...spec.budgets].map((f) => Math.round(f * pretrainTokens));
    const audited = this.tasks.filter((t) => spec.tasks.includes(t.spec.name));
    const tasks = audited.map((t) => ({ name: t.spec.name, splits: t.splits }));
    const evalSpec = { tasks: Object.fromEntries(audited.map((t) => [t.spec.name, t.dataHash.validation])), dv: this.pretrainHash.dv, limit: spec.evalLimit, windows: spec.ownerWindows };
    const T = Math.min(spec.attack.seqLen, this.maxContext);
    const evaluate = auditEvaluator(this.tok, this.streamOf('dv'), tasks, { evalLimit: spec.evalLimit, ownerWindows: spec.ownerWindows, seqLen: T });
    const corpus = spec.public.some((p) => p === 'heldout' || p === 'other') ? auditCorpus(cfg.model, defaultCorpusLocations(this.opts.root), this.data, (s) => this.step(s)) : '';
    const sources = spec.public.map((p) => ({ name: p === 'heldout' || p === 'other' ? p : basename(p, '.jsonl'), path: p === 'heldout' || p === 'other' ? join(corpus, `${p}.jsonl`) : p }));
    const attack = { ...spec.attack, seqLen: T, seed: cfg.importance.seed };
    const recovery = (emu: StageInfo<EmulatorSummary>, source: { name: string; path: string }, init: RebuildInit | 'reference', emulatorKey: string | null): RecoveryRun => {
      const inputs = { emulator: emulatorKey, model: this.modelHash, source: sha256File(source.path), init, attack, budgets, evalSpec };
      const stage = this.cache.run('audit-recovery', inputs, `audit: recovery ${init} on ${source.name}${emulatorKey ? '' : ' (reference)'}`, (dir) => {
        const { emulator } = readEmulatorPackage(join(emu.materialize(), 'package'));
        const text = jsonlTokenStream(this.tok, source.path, this.tok.prefixTokenId, 'before');
        return recoveryRun(emulator, text, init, { ...attack, budgets, stateDir: join(dir, 'state'), log: (s) => this.step(s) }, evaluate, source.name);
      });
      this.stageDone();
      return { source: source.name, init, points: stage.value };
    };
    const modelReference = this.cache.run('audit-model', { model: this.modelHash, evalSpec, seqLen: T }, 'audit: the model on the attack\'s scores', () => noGrad(() => {
      const m = loadModel(cfg.model);
      m.eval();
      return evaluate(m);
    })).value;
    const methods = spec.methods.map((name) => {
      const method = getMethod(name);
      const emu = this.emulatorStage(method, method.settings({ ...cfg.emulator, noSrc: false }));
      const disclosed = this.cache.run('audit-disclosure', { emulator: emu.key, model: this.modelHash }, `audit: disclosure of ${method.label}`, () =>
        disclosure(loadModel(cfg.model), readEmulatorPackage(join(emu.materialize(), 'package')).emulator)).value;
      this.stageDone();
      const tunedEverywhere = Object.fromEntries(audited.map((lt) => [lt.spec.name, this.tuneEverywhere(spec, lt, main.find((m) => m.method === name)?.tasks[lt.spec.name]?.bestLr,
        { emulator: emu.key }, method.label, () => {
          const { emulator } = readEmulatorPackage(join(emu.materialize(), 'package'));
          return attackModel(emulator, { rebuildWithheld: false, init: 'fresh', seed: cfg.tune.seed }).model;
        })]));
      const inits: RebuildInit[] = spec.nearestFor.includes(name) ? ['fresh', 'nearest'] : ['fresh'];
      return {
        method: name, label: method.label, relativeSize: emu.value.parameters.relative_size, disclosure: disclosed, tuneEverything: tunedEverywhere,
        recovery: sources.flatMap((src) => inits.map((init) => recovery(emu, src, init, emu.key))),
      };
    });
    // Like for like with tuning an emulator everywhere: the model itself, trunk included (FT keeps the trunk frozen).
    const modelTuneEverything = Object.fromEntries(audited.map((lt) => [lt.spec.name, this.tuneEverywhere(spec, lt, full.find((x) => x.name === lt.spec.name)?.ft.bestLr,
      { model: this.modelHash }, 'the model', () => loadModel(cfg.model))]));
    // The reference needs only the trunk, which every emulator ships verbatim: build it from the first.
    const first = this.emulatorStage(getMethod(spec.methods[0]), getMethod(spec.methods[0]).settings({ ...cfg.emulator, noSrc: false }));
    const reference = sources.map((src) => recovery(first, src, 'reference', null));
    return { tasks: spec.tasks, budgets: spec.budgets, pretrainTokens, sources: sources.map((x) => x.name), modelReference, modelTuneEverything, reference, methods };
  }

  /**
   * Tuning every parameter of a model (an emulator as its holder would, or the model itself
   * as the like-for-like reference) on one audit task. tuneLr "main" / "main-then-lower":
   * start at `startLr`, the lr the cell chose on validation in the main run, a stated cut of
   * the grid; "main-then-lower" then steps down while the smallest lr tried wins, since every
   * weight tuned may want a lower lr than the blocks alone did. Each lr is its own stage
   * (keyed by `owner`: the emulator's or the model's identity), so a finished one stays valid.
   */
  private tuneEverywhere(spec: AuditSpec, lt: LoadedTask, startLr: number | undefined, owner: Record<string, string>, label: string, make: () => CausalLM): TuneEverythingResult {
    const { cfg } = this;
    const task = { name: lt.spec.name, splits: lt.splits };
    const tuneAt = (lrs: number[], note = '') => {
      const budget = { ...cfg.tune, lrs };
      const stage = this.cache.run('audit-tune-everything', { ...owner, data: lt.dataHash, evalSpec: { evalLimit: lt.spec.evalLimit, evalChars: lt.spec.evalChars }, budget }, `audit: ${label} tuned everywhere on ${task.name}${note}`,
        (dir) => tuneEverything(make, this.tok, task, { tune: budget, log: (s) => this.step(s) }, dir));
      this.stageDone();
      return { best: { lr: stage.value.bestLr, validation: stage.value.validation }, value: stage.value };
    };
    const fromMain = spec.tuneLr !== 'grid' && startLr !== undefined;
    const lrs = fromMain ? [startLr] : cfg.tune.lrs;
    const grid = tuneAt(lrs);
    if (!(fromMain && spec.tuneLr === 'main-then-lower')) return grid.value;
    const { value, extensions } = extendLrGridDownward({ lrs, ...grid }, (lr) => tuneAt([lr], ` (lr extended down to ${lr})`));
    return { ...value, runs: [...grid.value.runs, ...extensions.map((x) => ({ lr: x.lr, validation: x.validation.value }))] };
  }

  stages(): ExperimentResults['stages'] {
    return { computed: this.cache.runs.length, cached: this.cache.hits.length, rebuilt: this.cache.rebuilt.length, rebuiltDiffering: [...this.cache.rebuiltDiffering], recordedSeconds: this.cache.recordedSeconds() };
  }
}

export function runExperiment(cfg: ExperimentConfig, opts: ExperimentOptions): ExperimentResults {
  const t0 = Date.now();
  const started = new Date().toISOString();
  const commit = gitCommit(opts.root); // at the start: the code that computes the results
  const { run, tasks, importance, methods, analyses } = withMatmulPrecision(cfg.precision, () => {
    const run = new ExperimentRun(cfg, opts);
    const tasks = run.tasks.map((t) => run.fullModel(t));
    const importance = run.importanceStage();
    const methods = run.methodsTable();
    return { run, tasks, importance, methods, analyses: run.analyses(methods, tasks) };
  });
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
    config: withRelativePaths(cfg, opts.root),
    tasks,
    importance: { scores: importance.value.scores, config: run.impCfg },
    methods,
    analyses,
    conditions: [],
    stages: run.stages(),
  };
  results.conditions = checkConditions(results);
  return results;
}
