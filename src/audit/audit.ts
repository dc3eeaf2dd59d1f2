// `scaleot audit`: what the holder of an emulator package can get out of it (the privacy
// audit). For one emulator, on the model owner's tasks and validation text:
//   1. disclosure: parameters shipped verbatim, spectral energy of SRC targets shipped;
//   2. zero-shot stand-in: ZS and Emu ZS side by side (validation; test once, at the end);
//   3. tuning everything: every parameter of the emulator fine-tuned on a task (lr selected
//      on validation, test scored once), against the model itself tuned the same way (the
//      like-for-like line: FT keeps the trunk frozen) and Emu FT / Plug-in / FT of the same
//      budget where the caller has them (the experiment runner does);
//   4. rebuilding what was withheld: recovery curves of the attacker (attacker.ts) trained on
//      public text, per public source and block initialisation, with the trunk-only
//      reference, at nested budgets given as fractions of the model's pre-training tokens.
// The source model is loaded for the reference rows and the disclosure only; every attack
// is built from the package (attacker.ts). Each section is written into audit.json as soon
// as it is done (temporary name, then rename) and a rerun keeps finished sections, so a
// long audit survives interruption; the recovery runs also checkpoint within themselves.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM } from '../models/causal_lm.js';
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { readEmulatorPackage } from '../offsite/emulator_package.js';
import { instantiateEmulator, type Emulator } from '../offsite/emulator.js';
import type { Task } from '../data/tasks.js';
import { splitGuard } from '../data/split_guard.js';
import { jsonlTokenStream } from '../data/streams.js';
import { trainingExamples, trainRun, scoreTask, better, type Score } from '../train/finetune.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { disclosure, type Disclosure } from './disclosure.js';
import { attackModel, type RebuildInit } from './attacker.js';
import { recoveryCurve, trunkOnlyModel, type RecoveryPoint } from './recovery.js';

export interface AuditTask {
  name: string;
  splits: { readonly train: Task; readonly validation: Task; readonly test: Task };
}

export interface AuditOptions {
  /** The model owner's model: the disclosure and the reference rows only. */
  modelDir: string;
  pkg: string;
  tasks: AuditTask[];
  /** The model owner's validation text (jsonl of {"text"}), scored after every attack budget. */
  ownerText: string;
  /** Public text for the attacker, by name (jsonl of {"text"}). */
  publicText: { name: string; path: string }[];
  /** Budgets as fractions of the model's pre-training tokens (0 is always scored). */
  budgets: number[];
  pretrainTokens: number;
  inits: RebuildInit[];
  tune: { lrs: number[]; steps: number; batchSize: number; seqLen?: number; seed: number };
  attack: { lr: number; batchSize: number; seqLen: number; seed: number };
  /** Items / documents of each task's validation split scored after each attack budget. */
  attackEvalLimit: number;
  /** Token windows of the owner's text scored after each budget. */
  ownerWindows: number;
  outDir: string;
  log?: (s: string) => void;
}

export interface RecoveryRun {
  source: string;
  /** 'reference': the emulator's trunk with blocks trained from scratch. */
  init: RebuildInit | 'reference';
  points: RecoveryPoint[];
}

export interface AuditResult {
  format: 'scaleot-audit/1';
  emulator: { kind: string; settings: unknown; relativeSize: number };
  pretrainTokens: number;
  disclosure?: Disclosure;
  zeroShot?: Record<string, { zs: { validation: Score; test: Score }; emuZS: { validation: Score; test: Score } }>;
  tuneEverything?: Record<string, TuneEverythingResult>;
  /**
   * The model itself tuned the same way (trunk included, same grid and budget): the
   * like-for-like line for tuneEverything, since FT and the offsite settings keep the trunk frozen.
   */
  modelTuneEverything?: Record<string, TuneEverythingResult>;
  /** The model's own scores on what the attack scores: the line to recover. */
  modelReference?: Record<string, number>;
  recovery?: RecoveryRun[];
}

/** Mean next-token loss on the first `windows` disjoint windows of a token stream. */
function textLoss(m: CausalLM, stream: Int32Array, windows: number, T: number): number {
  const n = Math.min(windows, Math.floor((stream.length - 1) / T));
  if (n < 1) throw new RangeError(`audit: the owner's text has ${stream.length} tokens, fewer than one window of ${T}`);
  let s = 0;
  for (let w = 0; w < n; w++) s += m.loss(stream.subarray(w * T, (w + 1) * T), stream.subarray(w * T + 1, (w + 1) * T + 1), 1, T).item();
  return s / n;
}

export interface TuneEverythingResult {
  runs: { lr: number; validation: number }[];
  bestLr: number;
  validation: Score;
  test: Score;
}

/**
 * Every parameter of a model fine-tuned on a task over the lr grid, selected on validation,
 * test once. Whatever `make` froze is made trainable here: tuning everything means it.
 */
export function tuneEverything(make: () => CausalLM, tok: TextTokenizer, t: AuditTask, o: Pick<AuditOptions, 'tune' | 'log'>, workDir: string): TuneEverythingResult {
  const log = o.log ?? (() => {});
  let best: { lr: number; validation: Score; model: CausalLM } | null = null;
  const runs: { lr: number; validation: number }[] = [];
  splitGuard.during(`audit: tuning every parameter of the emulator on ${t.name}`, 'selection', () => {
    for (const lr of o.tune.lrs) {
      const model = make();
      model.requiresGrad(true);
      const examples = trainingExamples(t.splits.train, tok, Math.min(o.tune.seqLen ?? model.maxContext, model.maxContext));
      trainRun(model, model.parameters(), examples, lr, join(workDir, `lr-${lr}`), { steps: o.tune.steps, batchSize: o.tune.batchSize, seed: o.tune.seed, checkpointEvery: 0 }, log);
      const validation = scoreTask(model, tok, t.splits.validation);
      runs.push({ lr, validation: validation.value });
      log(`audit: tune-everything ${t.name} lr ${lr}: validation ${validation.value.toFixed(4)}`);
      if (!best || better(validation, best.validation)) best = { lr, validation, model };
    }
  });
  const chosen = best as unknown as { lr: number; validation: Score; model: CausalLM };
  const test = splitGuard.during(`audit: tune-everything test on ${t.name}`, 'evaluation', () => scoreTask(chosen.model, tok, t.splits.test));
  return { runs, bestLr: chosen.lr, validation: chosen.validation, test };
}

/**
 * What an attack is scored on after each budget: the loss on the owner's validation text
 * (the first `ownerWindows` windows) and each task's first `evalLimit` validation items.
 */
export function auditEvaluator(tok: TextTokenizer, owner: Int32Array, tasks: AuditTask[], o: { evalLimit: number; ownerWindows: number; seqLen: number }): (m: CausalLM) => Record<string, number> {
  return (m) => {
    const out: Record<string, number> = { owner_text_loss: textLoss(m, owner, o.ownerWindows, Math.min(o.seqLen, m.maxContext)) };
    for (const t of tasks) {
      const v = t.splits.validation;
      const cut: Task = v.kind === 'mc' ? { ...v, items: v.items.slice(0, o.evalLimit) } : { ...v, documents: v.documents.slice(0, o.evalLimit) };
      out[t.name] = scoreTask(m, tok, cut).value;
    }
    return out;
  };
}

/** One recovery curve: the attacker (or the trunk-only reference) trained on one public text. */
export function recoveryRun(
  emulator: Emulator, text: Int32Array, init: RebuildInit | 'reference',
  o: { lr: number; batchSize: number; seqLen: number; seed: number; budgets: number[]; stateDir: string; log?: (s: string) => void },
  evaluate: (m: CausalLM) => Record<string, number>, sourceName: string,
): RecoveryPoint[] {
  const start = init === 'reference' ? trunkOnlyModel(emulator, o.seed) : attackModel(emulator, { rebuildWithheld: true, init, seed: o.seed }).model;
  // The attack makes no choice on the owner's data, and must never see a test split.
  return splitGuard.during(`audit: recovery on ${sourceName}`, 'selection', () => recoveryCurve(start, text, {
    budgets: o.budgets, lr: o.lr, batchSize: o.batchSize, seqLen: o.seqLen, seed: o.seed, stateDir: o.stateDir, checkpointEvery: 50, log: o.log,
  }, evaluate));
}

export function runAudit(o: AuditOptions): AuditResult {
  const log = o.log ?? (() => {});
  mkdirSync(o.outDir, { recursive: true });
  const path = join(o.outDir, 'audit.json');
  const { emulator, manifest } = readEmulatorPackage(o.pkg);
  const tok = TextTokenizer.fromDir(o.pkg);
  const fresh: AuditResult = {
    format: 'scaleot-audit/1', emulator: { kind: manifest.kind, settings: manifest.settings, relativeSize: manifest.parameters.relative_size }, pretrainTokens: o.pretrainTokens,
  };
  // A rerun keeps the sections a run on the same package and settings finished.
  const saved = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as AuditResult) : null;
  const r: AuditResult = saved && JSON.stringify(saved.emulator) === JSON.stringify(fresh.emulator) && saved.pretrainTokens === o.pretrainTokens ? saved : fresh;
  const save = () => writeJsonAtomic(path, r);

  const model = loadModel(o.modelDir);
  if (!r.disclosure) {
    r.disclosure = disclosure(model, emulator);
    save();
  }
  const emu = () => instantiateEmulator(emulator, o.pkg);
  if (!r.zeroShot) {
    r.zeroShot = {};
    const e = emu();
    for (const t of o.tasks) {
      const validation = { zs: scoreTask(model, tok, t.splits.validation), emu: scoreTask(e, tok, t.splits.validation) };
      const test = splitGuard.during(`audit: ZS and Emu ZS test on ${t.name}`, 'evaluation', () => ({ zs: scoreTask(model, tok, t.splits.test), emu: scoreTask(e, tok, t.splits.test) }));
      r.zeroShot[t.name] = { zs: { validation: validation.zs, test: test.zs }, emuZS: { validation: validation.emu, test: test.emu } };
      log(`audit: ${t.name} ZS ${validation.zs.value.toFixed(4)}, Emu ZS ${validation.emu.value.toFixed(4)} (validation)`);
    }
    save();
  }
  // The emulator tuned everywhere, then the model itself the same way; a task at a time, saved as it goes.
  const tuneEach = (section: Record<string, TuneEverythingResult>, make: () => CausalLM, workPrefix: string) => {
    for (const t of o.tasks) {
      if (section[t.name]) continue;
      section[t.name] = tuneEverything(make, tok, t, o, join(o.outDir, 'work', `${workPrefix}-${t.name}`));
      save();
    }
  };
  tuneEach((r.tuneEverything ??= {}), () => attackModel(emulator, { rebuildWithheld: false, init: 'fresh', seed: o.tune.seed }).model, 'tune');
  tuneEach((r.modelTuneEverything ??= {}), () => loadModel(o.modelDir), 'tune-model');

  // Part 4: what the attack scores, for the model itself first (the line to recover).
  const T = Math.min(o.attack.seqLen, model.maxContext);
  const evaluate = auditEvaluator(tok, jsonlTokenStream(tok, o.ownerText, tok.prefixTokenId, 'before'), o.tasks, { evalLimit: o.attackEvalLimit, ownerWindows: o.ownerWindows, seqLen: T });
  if (!r.modelReference) {
    r.modelReference = evaluate(model);
    save();
  }
  r.recovery ??= [];
  const budgets = [0, ...o.budgets.filter((b) => b > 0)].map((f) => Math.round(f * o.pretrainTokens));
  for (const source of o.publicText) {
    const text = jsonlTokenStream(tok, source.path, tok.prefixTokenId, 'before');
    for (const init of [...o.inits, 'reference' as const]) {
      if (r.recovery.some((x) => x.source === source.name && x.init === init)) continue;
      log(`audit: recovery on ${source.name} (${init === 'reference' ? 'trunk only, blocks from scratch' : `withheld blocks rebuilt, ${init} init`})`);
      const points = recoveryRun(emulator, text, init, { ...o.attack, seqLen: T, budgets, stateDir: join(o.outDir, 'work', `recovery-${source.name}-${init}`), log }, evaluate, source.name);
      r.recovery.push({ source: source.name, init, points });
      save();
    }
  }
  return r;
}
