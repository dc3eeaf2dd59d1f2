// The experiment configuration: which model, which tasks, which methods, the budgets of
// every stage and the analyses (the paper's Figs. 3-6 and Table 3). Read from a JSON file;
// every field is checked and a bad one is reported with the file, the field and what was
// expected. Paths are resolved against the configuration file's directory.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { BUILTIN_TASKS } from '../data/tasks.js';
import { DEFAULT_EMULATOR, type EmulatorSettings, type SrcTarget } from '../offsite/emulator.js';
import { DEFAULT_IMPORTANCE, type ImportanceConfig } from '../offsite/scaleot/importance.js';
import { DEFAULT_DISTILL_LR } from '../offsite/baselines/distill.js';
import type { MatmulPrecision } from '../tensor/ops/matmul.js';
import { methodNames } from '../offsite/methods.js';
import { tunerNames } from '../peft/registry.js';
import { DEFAULT_BUDGET, type TrainBudget } from '../train/finetune.js';

export type { TrainBudget };

export interface TaskSpec {
  /** A built-in task name, or a label for the files below. */
  name: string;
  /** A user's task files (instead of a built-in task). */
  files?: { train: string; validation: string; test: string };
  /** Multiple choice: items scored per split (the first N of the hashed order); all by default. */
  evalLimit?: number;
  /**
   * Perplexity: the validation and test documents are cut to their first N characters (at a
   * white-space boundary) before scoring, so a reduced run can score a long corpus quickly.
   */
  evalChars?: number;
  /**
   * The methods whose offsite cells (tuning and plug-in) run on this task; every method of
   * the configuration by default. A cut of a run's cost, not of the protocol: the full
   * model's ZS and FT still run, and the tables show "—" for the cells left out.
   */
  methods?: string[];
}

/** The emulator defaults of the comparison (ScaleOT's settings; each method adapts them). */
export type EmulatorSpec = Omit<EmulatorSettings, 'noSrc'>;

/** Importance estimation's budget; the harmonizer rank defaults to max(4, d / 16). */
export type ImportanceSpec = Pick<ImportanceConfig, 'steps' | 'eta' | 'batchSize' | 'seqLen' | 'lr' | 'rewardScale' | 'seed'> & { rank?: number };

export interface DistillSpec {
  /** Defaults to the importance-estimation steps (METHOD.md: the same budget). */
  steps?: number;
  lr: number;
  batchSize: number;
  seqLen: number;
}

export interface AuditSpec {
  /** The owner's tasks scored by the audit (tuning everything, and after each attack budget). */
  tasks: string[];
  methods: string[];
  /** Public text for the attacker: heldout / other (the larger corpus's reserved parts) or .jsonl files. */
  public: string[];
  /** Attack budgets as fractions of the model's pre-training tokens (nested). */
  budgets: number[];
  /** Methods whose rebuilt blocks also start as copies of the nearest shipped block (all start fresh). */
  nearestFor: string[];
  attack: { lr: number; batchSize: number; seqLen: number };
  /** Validation items / documents per task scored after each budget, and windows of the owner's text. */
  evalLimit: number;
  ownerWindows: number;
  /** The model's pre-training tokens; default: pretraining.json in the model directory. */
  pretrainTokens?: number;
  /**
   * Tuning everything: "grid" searches tune.lrs; "main" uses the lr the method's adapters
   * chose on the task in the main table (Emu FT validation), a cut of the audit's cost;
   * "main-then-lower" starts there and steps down while the smallest lr tried wins on
   * validation (at most two steps), since tuning every weight may want a lower lr.
   */
  tuneLr: 'grid' | 'main' | 'main-then-lower';
}

export interface AnalysesSpec {
  /** Fig. 4: emulators over an α × β grid (ScaleOT), tuned and plugged in. */
  alphaBeta?: { task: string; alphas: number[]; betas: number[] };
  /** Fig. 3: SRC on attention / FFN / both over β. */
  srcTargets?: { task: string; betas: number[]; targets: SrcTarget[] };
  /** Fig. 5: the number of adapter blocks. */
  numAdapters?: { task: string; values: number[] };
  /** Table 3: parameter-efficient tuning of the adapters. */
  peft?: { task: string; methods: string[] };
  /** The privacy audit (src/audit) of each listed method's default emulator. */
  audit?: AuditSpec;
  /**
   * The lr of the α×β, SRC-target and N_a points: "grid" searches tune.lrs at each point;
   * "main" uses the lr ScaleOT's main-table cell chose on the task (validation), a cut of
   * the run's cost. PEFT rows always search the grid.
   */
  lr?: 'grid' | 'main';
}

export interface Conditions {
  /** Emu FT perplexity at least this many percent above Plug-in (the privacy gap). */
  privacyGapPct: number;
  /** Plug-in perplexity within this many percent of FT (the utility). */
  utilityPct: number;
  /** Accuracy tasks: Plug-in ≥ Emu FT + this many points (privacy) and ≥ FT − this many (utility). */
  accuracyPoints: number;
  /** An accuracy task is learnable (ranks methods) when FT beats ZS on validation by this many standard errors. */
  learnableSe: number;
}

export interface ExperimentConfig {
  name: string;
  model: string;
  tasks: TaskSpec[];
  /** Names from the offsite-tuning method registry (offsite/methods.ts). */
  methods: string[];
  emulator: EmulatorSpec;
  importance: ImportanceSpec;
  distill: DistillSpec;
  finetune: TrainBudget;
  /** The budget of offsite tuning, and its tuner (peft/registry.ts). */
  tune: TrainBudget & { method: string };
  analyses: AnalysesSpec;
  conditions: Conditions;
  /** Where stage results are cached (by content hash), shared between experiments. */
  cacheDir: string;
  /** Where results.json and report.html go; outDir/stages is the committed ledger of finished stages. */
  outDir: string;
  /**
   * Other experiments' committed ledgers (their outDir/stages), read only: a stage finished
   * there (same kind, inputs and precision, so the same key) is done here too, and is not
   * copied into this experiment's ledger.
   */
  readLedgers: string[];
  /** Matrix products in fp32 or bf16 (mixed precision); part of every stage's cache key. */
  precision: MatmulPrecision;
  /**
   * Seeds run after selection (METHOD.md "Grids and seeds"): each cell of the main table
   * (FT, and every method's emulator and tuning) is repeated at its chosen lr with each of
   * these as importance, distillation and tuning seed; the table reports mean ± sd.
   */
  repeatSeeds: number[];
  /**
   * The tasks whose cells are repeated with repeatSeeds (default: every task). A stated cut
   * of a run's cost: a task whose scoring dominates the run can keep one seed.
   */
  repeatTasks: string[];
}

export class ConfigFileError extends Error {
  override name = 'ConfigFileError';
}

type Json = Record<string, unknown>;

/** Field readers that name the file and the field in every error. */
class Fields {
  constructor(readonly file: string) {}
  fail(field: string, expected: string, got: unknown): never {
    throw new ConfigFileError(`${this.file}: field "${field}" must be ${expected}, got ${JSON.stringify(got)}`);
  }
  object(o: Json, key: string, path: string): Json {
    const v = o[key];
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Json;
  }
  num(o: Json, key: string, path: string, dflt: number | undefined, lo = -Infinity, hi = Infinity, integer = false): number {
    const v = o[key] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
      this.fail(path, `${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}]`, o[key]);
    }
    return v;
  }
  int(o: Json, key: string, path: string, dflt: number | undefined, lo = 0, hi = Infinity): number {
    return this.num(o, key, path, dflt, lo, hi, true);
  }
  optInt(o: Json, key: string, path: string, lo = 1): number | undefined {
    return o[key] === undefined ? undefined : this.int(o, key, path, undefined, lo);
  }
  str<T extends string>(o: Json, key: string, path: string, dflt: T | undefined, allowed?: readonly T[]): T {
    const v = o[key] ?? dflt;
    if (typeof v !== 'string' || v.length === 0 || (allowed && !allowed.includes(v as T))) {
      this.fail(path, allowed ? `one of ${allowed.map((a) => `"${a}"`).join(', ')}` : 'a non-empty string', o[key]);
    }
    return v as T;
  }
  list<T>(o: Json, key: string, path: string, dflt: T[] | undefined, item: (v: unknown, p: string) => T, minLength = 1): T[] {
    const v = o[key] ?? dflt;
    if (!Array.isArray(v) || v.length < minLength) this.fail(path, `a list of at least ${minLength} item(s)`, o[key]);
    return (v as unknown[]).map((x, i) => item(x, `${path}[${i}]`));
  }
  numberItem(lo: number, hi: number, integer = false) {
    return (v: unknown, p: string): number => {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi || (integer && !Number.isInteger(v))) {
        this.fail(p, `${integer ? 'an integer' : 'a number'} in [${lo}, ${hi}]`, v);
      }
      return v;
    };
  }
  stringItem<T extends string>(allowed: readonly T[]) {
    return (v: unknown, p: string): T => {
      if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(p, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, v);
      return v as T;
    };
  }
  checkKeys(o: Json, path: string, known: string[]): void {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) throw new ConfigFileError(`${this.file}: unknown field "${path ? path + '.' : ''}${k}" (known: ${known.join(', ')})`);
    }
  }
}

const SRC_TARGETS: readonly SrcTarget[] = ['attn', 'ffn', 'all'];

function budget(f: Fields, o: Json, path: string, dflt: TrainBudget): TrainBudget {
  f.checkKeys(o, path, ['lrs', 'steps', 'batchSize', 'seqLen', 'seed', 'method']);
  return {
    lrs: f.list(o, 'lrs', `${path}.lrs`, dflt.lrs, f.numberItem(1e-8, 1)),
    steps: f.int(o, 'steps', `${path}.steps`, dflt.steps, 1),
    batchSize: f.int(o, 'batchSize', `${path}.batchSize`, dflt.batchSize, 1),
    seqLen: f.optInt(o, 'seqLen', `${path}.seqLen`, 2),
    seed: f.int(o, 'seed', `${path}.seed`, dflt.seed, 0),
  };
}

function parseTasks(f: Fields, o: Json, path: (p: string) => string): TaskSpec[] {
  return f.list(o, 'tasks', 'tasks', undefined, (v, p): TaskSpec => {
    if (typeof v === 'string') v = { name: v };
    if (typeof v !== 'object' || v === null || Array.isArray(v)) f.fail(p, 'a task name or {"name", ...}', v);
    const t = v as Json;
    f.checkKeys(t, p, ['name', 'files', 'evalLimit', 'evalChars', 'methods']);
    const spec: TaskSpec = { name: f.str(t, 'name', `${p}.name`, undefined) };
    if (t.files !== undefined) {
      const fl = f.object(t, 'files', `${p}.files`);
      f.checkKeys(fl, `${p}.files`, ['train', 'validation', 'test']);
      spec.files = {
        train: path(f.str(fl, 'train', `${p}.files.train`, undefined)),
        validation: path(f.str(fl, 'validation', `${p}.files.validation`, undefined)),
        test: path(f.str(fl, 'test', `${p}.files.test`, undefined)),
      };
      for (const [k, fp] of Object.entries(spec.files)) if (!existsSync(fp)) f.fail(`${p}.files.${k}`, 'an existing file', fp);
    } else if (!BUILTIN_TASKS.includes(spec.name)) {
      f.fail(`${p}.name`, `a built-in task (${BUILTIN_TASKS.join(', ')}) or given with "files"`, spec.name);
    }
    spec.evalLimit = f.optInt(t, 'evalLimit', `${p}.evalLimit`);
    spec.evalChars = f.optInt(t, 'evalChars', `${p}.evalChars`, 100);
    if (t.methods !== undefined) spec.methods = f.list(t, 'methods', `${p}.methods`, undefined, (m, mp) => (typeof m === 'string' ? m : f.fail(mp, 'a method name', m)));
    return spec;
  });
}

function parseEmulator(f: Fields, e: Json): EmulatorSpec {
  f.checkKeys(e, 'emulator', ['numAdapters', 'alpha', 'beta', 'srcTarget', 'numGroups']);
  return {
    numAdapters: f.int(e, 'numAdapters', 'emulator.numAdapters', DEFAULT_EMULATOR.numAdapters, 1),
    alpha: f.num(e, 'alpha', 'emulator.alpha', DEFAULT_EMULATOR.alpha, 0, 1),
    beta: f.num(e, 'beta', 'emulator.beta', DEFAULT_EMULATOR.beta, 0, 1),
    srcTarget: f.str(e, 'srcTarget', 'emulator.srcTarget', DEFAULT_EMULATOR.srcTarget, SRC_TARGETS),
    numGroups: f.int(e, 'numGroups', 'emulator.numGroups', DEFAULT_EMULATOR.numGroups, 1),
  };
}

function parseImportance(f: Fields, im: Json): ImportanceSpec {
  f.checkKeys(im, 'importance', ['steps', 'eta', 'rank', 'batchSize', 'seqLen', 'lr', 'rewardScale', 'seed']);
  return {
    steps: f.int(im, 'steps', 'importance.steps', DEFAULT_IMPORTANCE.steps, 2),
    eta: f.num(im, 'eta', 'importance.eta', DEFAULT_IMPORTANCE.eta, 0, 100),
    rank: f.optInt(im, 'rank', 'importance.rank'),
    batchSize: f.int(im, 'batchSize', 'importance.batchSize', DEFAULT_IMPORTANCE.batchSize, 1),
    seqLen: f.int(im, 'seqLen', 'importance.seqLen', DEFAULT_IMPORTANCE.seqLen, 2),
    lr: f.num(im, 'lr', 'importance.lr', DEFAULT_IMPORTANCE.lr, 1e-8, 1),
    rewardScale: f.str(im, 'rewardScale', 'importance.rewardScale', DEFAULT_IMPORTANCE.rewardScale, ['none', 'running_std'] as const),
    seed: f.int(im, 'seed', 'importance.seed', DEFAULT_IMPORTANCE.seed, 0),
  };
}

function parseDistill(f: Fields, d: Json, importance: ImportanceSpec): DistillSpec {
  f.checkKeys(d, 'distill', ['steps', 'lr', 'batchSize', 'seqLen']);
  return {
    steps: f.optInt(d, 'steps', 'distill.steps'),
    lr: f.num(d, 'lr', 'distill.lr', DEFAULT_DISTILL_LR, 1e-8, 1),
    batchSize: f.int(d, 'batchSize', 'distill.batchSize', importance.batchSize, 1),
    seqLen: f.int(d, 'seqLen', 'distill.seqLen', importance.seqLen, 2),
  };
}

function parseAudit(f: Fields, x: Json, taskNames: string[], methods: string[], path: (p: string) => string): AuditSpec {
  const p = 'analyses.audit';
  f.checkKeys(x, p, ['tasks', 'methods', 'public', 'budgets', 'nearestFor', 'attack', 'evalLimit', 'ownerWindows', 'pretrainTokens', 'tuneLr']);
  const at = f.object(x, 'attack', `${p}.attack`);
  f.checkKeys(at, `${p}.attack`, ['lr', 'batchSize', 'seqLen']);
  const publicItem = (v: unknown, q: string): string => {
    if (typeof v !== 'string' || !(v === 'heldout' || v === 'other' || v.endsWith('.jsonl'))) f.fail(q, '"heldout", "other" or a .jsonl file of {"text"}', v);
    return v === 'heldout' || v === 'other' ? v : path(v as string);
  };
  const budgets = f.list(x, 'budgets', `${p}.budgets`, [0.01, 0.03, 0.1], f.numberItem(1e-6, 10));
  if (budgets.some((b, i) => i > 0 && b <= budgets[i - 1])) f.fail(`${p}.budgets`, 'ascending fractions', x.budgets);
  return {
    tasks: f.list(x, 'tasks', `${p}.tasks`, taskNames, f.stringItem(taskNames)),
    methods: f.list(x, 'methods', `${p}.methods`, methods.filter((m) => m !== 'dynamic-drop'), f.stringItem(methods)),
    public: f.list(x, 'public', `${p}.public`, ['heldout', 'other'], publicItem),
    budgets,
    nearestFor: f.list(x, 'nearestFor', `${p}.nearestFor`, methods.includes('scaleot') ? ['scaleot'] : [], f.stringItem(methods), 0),
    attack: { lr: f.num(at, 'lr', `${p}.attack.lr`, 1e-3, 1e-8, 1), batchSize: f.int(at, 'batchSize', `${p}.attack.batchSize`, 16, 1), seqLen: f.int(at, 'seqLen', `${p}.attack.seqLen`, 256, 2) },
    evalLimit: f.int(x, 'evalLimit', `${p}.evalLimit`, 300, 1),
    ownerWindows: f.int(x, 'ownerWindows', `${p}.ownerWindows`, 64, 1),
    pretrainTokens: f.optInt(x, 'pretrainTokens', `${p}.pretrainTokens`),
    tuneLr: f.str(x, 'tuneLr', `${p}.tuneLr`, 'grid', ['grid', 'main', 'main-then-lower'] as const),
  };
}

function parseAnalyses(f: Fields, a: Json, taskNames: string[], methods: string[], path: (p: string) => string): AnalysesSpec {
  f.checkKeys(a, 'analyses', ['alphaBeta', 'srcTargets', 'numAdapters', 'peft', 'audit', 'lr']);
  const analysisTask = (x: Json, p: string) => {
    const t = f.str(x, 'task', `${p}.task`, undefined);
    if (!taskNames.includes(t)) f.fail(`${p}.task`, `one of the experiment's tasks (${taskNames.join(', ')})`, t);
    return t;
  };
  const analyses: AnalysesSpec = {};
  if (a.alphaBeta !== undefined) {
    const x = f.object(a, 'alphaBeta', 'analyses.alphaBeta');
    f.checkKeys(x, 'analyses.alphaBeta', ['task', 'alphas', 'betas']);
    analyses.alphaBeta = { task: analysisTask(x, 'analyses.alphaBeta'), alphas: f.list(x, 'alphas', 'analyses.alphaBeta.alphas', undefined, f.numberItem(0, 1)), betas: f.list(x, 'betas', 'analyses.alphaBeta.betas', undefined, f.numberItem(0, 1)) };
  }
  if (a.srcTargets !== undefined) {
    const x = f.object(a, 'srcTargets', 'analyses.srcTargets');
    f.checkKeys(x, 'analyses.srcTargets', ['task', 'betas', 'targets']);
    analyses.srcTargets = { task: analysisTask(x, 'analyses.srcTargets'), betas: f.list(x, 'betas', 'analyses.srcTargets.betas', undefined, f.numberItem(0, 1)), targets: f.list(x, 'targets', 'analyses.srcTargets.targets', ['attn', 'ffn', 'all'], f.stringItem(SRC_TARGETS)) };
  }
  if (a.numAdapters !== undefined) {
    const x = f.object(a, 'numAdapters', 'analyses.numAdapters');
    f.checkKeys(x, 'analyses.numAdapters', ['task', 'values']);
    analyses.numAdapters = { task: analysisTask(x, 'analyses.numAdapters'), values: f.list(x, 'values', 'analyses.numAdapters.values', undefined, f.numberItem(1, 1e6, true)) };
  }
  if (a.peft !== undefined) {
    const x = f.object(a, 'peft', 'analyses.peft');
    f.checkKeys(x, 'analyses.peft', ['task', 'methods']);
    analyses.peft = { task: analysisTask(x, 'analyses.peft'), methods: f.list(x, 'methods', 'analyses.peft.methods', tunerNames(), f.stringItem(tunerNames())) };
  }
  if (a.audit !== undefined) analyses.audit = parseAudit(f, f.object(a, 'audit', 'analyses.audit'), taskNames, methods, path);
  if (a.lr !== undefined) analyses.lr = f.str(a, 'lr', 'analyses.lr', 'grid', ['grid', 'main'] as const);
  if (analyses.lr === 'main' && !methods.includes('scaleot')) f.fail('analyses.lr', '"grid" (or list "scaleot" in methods: "main" takes its chosen lr)', a.lr);
  return analyses;
}

/** Parses and checks an experiment configuration (an object read from `file`). */
export function parseExperimentConfig(raw: unknown, file: string): ExperimentConfig {
  const f = new Fields(file);
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigFileError(`${file}: expected a JSON object at the top level`);
  const o = raw as Json;
  f.checkKeys(o, '', ['name', 'description', 'model', 'tasks', 'methods', 'emulator', 'importance', 'distill', 'finetune', 'tune', 'analyses', 'conditions', 'cacheDir', 'outDir', 'readLedgers', 'precision', 'repeatSeeds', 'repeatTasks']);
  const base = dirname(resolve(file));
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const name = f.str(o, 'name', 'name', undefined);
  if (!/^[A-Za-z0-9._-]+$/.test(name)) f.fail('name', 'letters, digits, ".", "_" or "-" only (it names the output folder)', name);

  const tasks = parseTasks(f, o, path);
  const taskNames = tasks.map((t) => t.name);
  if (new Set(taskNames).size !== taskNames.length) f.fail('tasks', 'a list of distinct task names', taskNames);

  const methods = f.list(o, 'methods', 'methods', undefined, f.stringItem(methodNames()));
  tasks.forEach((t, i) => t.methods?.forEach((m, j) => methods.includes(m) || f.fail(`tasks[${i}].methods[${j}]`, `one of the configuration's methods (${methods.map((x) => `"${x}"`).join(', ')})`, m)));
  const emulator = parseEmulator(f, f.object(o, 'emulator', 'emulator'));
  const importance = parseImportance(f, f.object(o, 'importance', 'importance'));
  const distill = parseDistill(f, f.object(o, 'distill', 'distill'), importance);
  const finetune = budget(f, f.object(o, 'finetune', 'finetune'), 'finetune', DEFAULT_BUDGET);
  const tuneRaw = f.object(o, 'tune', 'tune');
  const tune = { ...budget(f, tuneRaw, 'tune', finetune), method: f.str(tuneRaw, 'method', 'tune.method', 'full', tunerNames()) };
  if (!('seqLen' in tuneRaw)) tune.seqLen = finetune.seqLen;

  const analyses = parseAnalyses(f, f.object(o, 'analyses', 'analyses'), taskNames, methods, path);
  const c = f.object(o, 'conditions', 'conditions');
  f.checkKeys(c, 'conditions', ['privacyGapPct', 'utilityPct', 'accuracyPoints', 'learnableSe']);
  const conditions: Conditions = {
    privacyGapPct: f.num(c, 'privacyGapPct', 'conditions.privacyGapPct', 5, 0, 1e6), utilityPct: f.num(c, 'utilityPct', 'conditions.utilityPct', 5, 0, 1e6),
    accuracyPoints: f.num(c, 'accuracyPoints', 'conditions.accuracyPoints', 2, 0, 100), learnableSe: f.num(c, 'learnableSe', 'conditions.learnableSe', 3, 0, 100),
  };

  const repeatSeeds = f.list(o, 'repeatSeeds', 'repeatSeeds', [], f.numberItem(0, 2 ** 31 - 1, true), 0);
  const selectionSeeds = new Set([importance.seed, finetune.seed, tune.seed]);
  if (new Set(repeatSeeds).size !== repeatSeeds.length || repeatSeeds.some((x) => selectionSeeds.has(x))) {
    f.fail('repeatSeeds', `distinct seeds other than the selection seeds (${[...selectionSeeds].join(', ')})`, o.repeatSeeds);
  }
  const repeatTasks = f.list(o, 'repeatTasks', 'repeatTasks', taskNames, f.stringItem(taskNames), 0);
  const model = path(f.str(o, 'model', 'model', undefined));
  if (!existsSync(model)) f.fail('model', 'an existing model directory', o.model);
  const readLedgers = f.list(o, 'readLedgers', 'readLedgers', [], (v, p) => {
    const dir = typeof v === 'string' ? path(v) : f.fail(p, 'a directory path', v);
    return existsSync(dir) ? dir : f.fail(p, 'an existing ledger directory (an experiment\'s outDir/stages)', v);
  }, 0);
  return {
    name, model, tasks, methods, emulator, importance, distill, finetune, tune, analyses, conditions,
    // Given paths are relative to the configuration file; the defaults to the working directory.
    cacheDir: o.cacheDir === undefined ? resolve('runs', 'cache') : path(f.str(o, 'cacheDir', 'cacheDir', undefined)),
    outDir: o.outDir === undefined ? resolve('runs', 'experiments', name) : path(f.str(o, 'outDir', 'outDir', undefined)),
    readLedgers,
    precision: f.str(o, 'precision', 'precision', 'fp32', ['fp32', 'bf16']) as MatmulPrecision,
    repeatSeeds,
    repeatTasks,
  };
}

export function readExperimentConfig(file: string): ExperimentConfig {
  if (!existsSync(file)) throw new ConfigFileError(`${file}: no such configuration file`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigFileError(`${file}: not valid JSON (${(e as Error).message})`);
  }
  return parseExperimentConfig(raw, file);
}
