// Dynamic LayerReplace (ScaleOT Sec. 3.2, Eqs. 1-5; METHOD.md Stage 1): learns one
// importance score per block and trains a harmonizer for every block, alternating
//   DL steps: sample a candidate (a set of blocks replaced by their harmonizers), compute
//             the next-token loss on a D^T batch, update only the harmonizers it used;
//   RL steps: sample N_c candidates, score each on the same D^V batch (no gradients),
//             reward r_j = exp(-L_j) - mean_t exp(-L_t) (Eq. 4), and move every kept
//             block's score by η r_j σ(s_i)(1 - σ(s_i)) (Eq. 5), all computed from the
//             scores as they were before the step and then summed.
// The model itself stays frozen throughout.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, appendFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import type { CausalLM, Block } from '../../models/causal_lm.js';
import { backward, noGrad } from '../../tensor/autograd.js';
import { AdamW } from '../../optim/adamw.js';
import { clipGradNorm } from '../../optim/clip.js';
import { Rng } from '../../util/rng.js';
import { SafetensorsFile, writeSafetensors } from '../../io/safetensors.js';
import { Harmonizer, defaultHarmonizerRank } from './harmonizer.js';
import { makeGroups } from './plan.js';
import { loadTrainState, saveTrainState } from '../../train/state.js';
import { Module, ModuleList } from '../../nn/module.js';
import { randomWindows } from '../../data/streams.js';

export interface ImportanceConfig {
  numGroups: number; // N_g = 4
  numCandidates: number; // N_c = 3
  rank: number; // harmonizer rank r
  steps: number; // DL + RL steps in all
  dlPerRl: number; // DL steps per RL step (1 = alternate)
  batchSize: number;
  seqLen: number;
  lr: number; // harmonizer AdamW learning rate
  eta: number; // score learning rate η (the paper's is 1)
  /** 'running_std': rewards divided by the running std of past rewards (METHOD.md allows it). */
  rewardScale: 'none' | 'running_std';
  checkpointEvery: number;
  seed: number;
}

export function defaultImportanceConfig(hidden: number): ImportanceConfig {
  return {
    numGroups: 4, numCandidates: 3, rank: defaultHarmonizerRank(hidden), steps: 400, dlPerRl: 1, batchSize: 8, seqLen: 128,
    lr: 1e-3, eta: 0.05, rewardScale: 'running_std', checkpointEvery: 50, seed: 0,
  };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Eqs. 1-3: p_i ~ U(0, σ(s_i)); in each group the floor(|g|/2) blocks with the lowest p
 * (ties to the lower index) are replaced, the rest kept. (METHOD.md: for an odd group the
 * strict ">" of Eq. 2 would keep fewer than half, so we replace exactly floor(|g|/2).)
 * Returns the replaced mask.
 */
export function sampleCandidate(scores: number[], groups: number[][], rng: Rng): boolean[] {
  const replaced = new Array<boolean>(scores.length).fill(false);
  const p = scores.map((s) => rng.uniform() * sigmoid(s));
  for (const g of groups) {
    const order = [...g].sort((a, b) => p[a] - p[b] || a - b);
    for (const i of order.slice(0, Math.floor(g.length / 2))) replaced[i] = true;
  }
  return replaced;
}

/**
 * Eqs. 4-5 for one RL step: every candidate's update is computed from the scores before
 * the step and the sum is applied. rewardScale divides rewards (1 = the paper's).
 */
export function scoreUpdate(scores: number[], candidates: boolean[][], losses: number[], eta: number, rewardScale = 1): { next: number[]; rewards: number[] } {
  const e = losses.map((l) => Math.exp(-l));
  const mean = e.reduce((a, b) => a + b, 0) / e.length;
  const rewards = e.map((v) => (v - mean) / rewardScale);
  const delta = new Array<number>(scores.length).fill(0);
  candidates.forEach((replaced, j) => {
    for (let i = 0; i < scores.length; i++) {
      if (replaced[i]) continue; // the update is for the kept blocks i ∈ φ_j
      const s = sigmoid(scores[i]);
      delta[i] += eta * rewards[j] * s * (1 - s);
    }
  });
  return { next: scores.map((s, i) => s + delta[i]), rewards };
}

/** Runs the model with the candidate's blocks swapped for their harmonizers. */
export function withCandidate<T>(model: CausalLM, harmonizers: Harmonizer[], replaced: boolean[], fn: () => T): T {
  const blocks = model.blocks as ModuleList<Block>;
  const originals: Block[] = [];
  for (let i = 0; i < blocks.length; i++) originals.push(blocks.at(i));
  try {
    replaced.forEach((r, i) => r && blocks.set(i, harmonizers[i]));
    return fn();
  } finally {
    originals.forEach((b, i) => blocks.set(i, b));
  }
}

/** A module holding every harmonizer, so they save, load and optimise as one. */
export class HarmonizerBank extends Module {
  readonly harmonizer: ModuleList<Harmonizer>;
  constructor(n: number, dim: number, rank: number, seed: number) {
    super();
    const rng = new Rng(seed);
    this.harmonizer = new ModuleList(Array.from({ length: n }, () => new Harmonizer(dim, rank, rng)));
  }
}

export interface ImportanceResult {
  scores: number[];
  steps: number;
  harmonizers: HarmonizerBank;
}

/** Dynamic LayerReplace on token streams D^T and D^V; writes outDir and resumes from it. */
export function estimateImportance(
  model: CausalLM,
  hidden: number,
  dT: Int32Array,
  dV: Int32Array,
  cfg: ImportanceConfig,
  outDir: string,
  opts: { resume?: boolean; stopAfter?: number; log?: (s: string) => void } = {},
): ImportanceResult {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const n = model.blocks.length;
  if (cfg.seqLen > model.maxContext) throw new RangeError(`importance: seqLen ${cfg.seqLen} exceeds the model's context ${model.maxContext}`);
  for (const [name, s] of [['D^T', dT], ['D^V', dV]] as const) {
    if (s.length < cfg.seqLen + 2) throw new RangeError(`importance: ${name} has ${s.length} tokens, fewer than one window of ${cfg.seqLen}`);
  }
  mkdirSync(outDir, { recursive: true });
  model.requiresGrad(false);
  model.eval();
  const groups = makeGroups(n, cfg.numGroups);
  const bank = new HarmonizerBank(n, hidden, cfg.rank, cfg.seed);
  const harmonizers = [...bank.harmonizer];
  const opt = new AdamW(bank.parameters(), { lr: cfg.lr, weightDecay: 0 });
  let scores = new Array<number>(n).fill(0);
  let step = 0;
  let rewardVar = { count: 0, mean: 0, m2: 0 }; // Welford, for the running std of rewards
  const statePath = join(outDir, 'state');
  const logPath = join(outDir, 'training_log.jsonl');
  if (opts.resume) {
    const rec = loadTrainState(statePath, bank, opt);
    if (rec) {
      step = rec.step as number;
      scores = rec.scores as number[];
      rewardVar = rec.rewardVar as typeof rewardVar;
      log(`importance: resuming at step ${step}`);
    }
  } else rmSync(logPath, { force: true });

  const B = cfg.batchSize, T = cfg.seqLen;
  for (; step < cfg.steps; step++) {
    const rng = new Rng(cfg.seed * 1_000_003 + step); // a step's randomness depends on the step only: exact resume
    const isRl = (step + 1) % (cfg.dlPerRl + 1) === 0;
    const entry: Record<string, unknown> = { step: step + 1, kind: isRl ? 'rl' : 'dl' };
    if (!isRl) {
      const replaced = sampleCandidate(scores, groups, rng);
      const { ids, targets } = randomWindows(dT, B, T, rng);
      opt.zeroGrad();
      const loss = withCandidate(model, harmonizers, replaced, () => {
        const l = model.loss(ids, targets, B, T);
        backward(l);
        return l.item();
      });
      clipGradNorm(bank.parameters(), 1.0);
      opt.step(); // only the harmonizers in this candidate have gradients
      entry.loss = loss;
    } else {
      const { ids, targets } = randomWindows(dV, B, T, rng);
      const candidates = Array.from({ length: cfg.numCandidates }, () => sampleCandidate(scores, groups, rng));
      const losses = candidates.map((c) => noGrad(() => withCandidate(model, harmonizers, c, () => model.loss(ids, targets, B, T).item())));
      const raw = losses.map((l) => Math.exp(-l));
      const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
      for (const v of raw) {
        const r = v - mean;
        rewardVar.count++;
        const d = r - rewardVar.mean;
        rewardVar.mean += d / rewardVar.count;
        rewardVar.m2 += d * (r - rewardVar.mean);
      }
      const runningStd = rewardVar.count > 1 ? Math.sqrt(rewardVar.m2 / (rewardVar.count - 1)) : 0;
      const scale = cfg.rewardScale === 'running_std' && runningStd > 0 ? runningStd : 1;
      const upd = scoreUpdate(scores, candidates, losses, cfg.eta, scale);
      scores = upd.next;
      entry.losses = losses;
      entry.rewards = upd.rewards;
    }
    entry.scores = scores.map((s) => Math.round(s * 1e6) / 1e6);
    appendFileSync(logPath, JSON.stringify(entry) + '\n');
    if ((step + 1) % 20 === 0) {
      log(`importance ${step + 1}/${cfg.steps} ${isRl ? 'rl' : `dl loss ${(entry.loss as number).toFixed(3)}`} scores [${scores.map((s) => s.toFixed(2)).join(' ')}]`);
    }
    if ((step + 1) % cfg.checkpointEvery === 0 && step + 1 < cfg.steps) {
      saveTrainState(statePath, bank, opt, { step: step + 1, scores, rewardVar });
    }
    if (opts.stopAfter !== undefined && step + 1 === opts.stopAfter && step + 1 < cfg.steps) {
      saveTrainState(statePath, bank, opt, { step: step + 1, scores, rewardVar });
      log(`importance: stopped after step ${step + 1}; continue with --resume`);
      return { scores, steps: step + 1, harmonizers: bank };
    }
  }
  writeSafetensorsAtomic(join(outDir, 'harmonizers.safetensors'), bank);
  const tmp = join(outDir, `scores.json.tmp-${process.pid}`);
  writeFileSync(tmp, JSON.stringify({ scores, config: cfg, blocks: n, groups }, null, 2) + '\n');
  renameSync(tmp, join(outDir, 'scores.json'));
  rmSync(statePath, { recursive: true, force: true });
  return { scores, steps: cfg.steps, harmonizers: bank };
}

function writeSafetensorsAtomic(path: string, bank: HarmonizerBank): void {
  writeSafetensors(path, bank.namedParameters().map(([name, p]) => ({ name, dtype: 'F32', shape: p.shape, data: p.data as Float32Array })), { format: 'pt' });
}

/** Loads scores.json and harmonizers.safetensors written by estimateImportance. */
export function loadImportance(dir: string, hidden: number): { scores: number[]; config: ImportanceConfig; bank: HarmonizerBank } {
  const path = join(dir, 'scores.json');
  if (!existsSync(path)) throw new Error(`${dir}: no scores.json (run scaleot importance first)`);
  const j = JSON.parse(readFileSync(path, 'utf8')) as { scores: number[]; config: ImportanceConfig };
  if (!Array.isArray(j.scores) || !j.scores.every((s) => Number.isFinite(s))) throw new Error(`${path}: "scores" must be a list of finite numbers`);
  const bank = new HarmonizerBank(j.scores.length, hidden, j.config.rank, 0);
  const st = SafetensorsFile.open(join(dir, 'harmonizers.safetensors'));
  try {
    for (const [name, p] of bank.namedParameters()) {
      if (!st.has(name)) throw new Error(`${st.path}: missing "${name}"`);
      const info = st.info(name);
      if (info.shape.join() !== p.shape.join()) throw new Error(`${st.path}: "${name}" has shape [${info.shape}], expected [${p.shape}]`);
      p.data.set(st.readFloat32(name));
    }
  } finally {
    st.close();
  }
  return { scores: j.scores, config: j.config, bank };
}
