// Dynamic LayerReplace: the sampler replaces exactly floor(|g|/2) blocks per group, the
// score update equals a hand-computed Eqs. 4-5 example, DL steps train only the sampled
// harmonizers while the model stays frozen, and a stopped run resumes exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleCandidate, scoreUpdate, estimateImportance, loadImportance, defaultImportanceConfig, RunningStd, rewardScale, dynamicLayerReplace, HarmonizerBank, harmonizerGradientSteps } from '../../src/offsite/scaleot/importance.js';
import { makeGroups } from '../../src/offsite/scaleot/plan.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { Rng } from '../../src/util/rng.js';

test('every sampled candidate replaces exactly floor(|g|/2) blocks of each group', () => {
  for (const n of [8, 14, 16, 17]) {
    const groups = makeGroups(n, 4);
    const rng = new Rng(n);
    for (let t = 0; t < 200; t++) {
      const scores = Array.from({ length: n }, () => rng.normal() * 2);
      const replaced = sampleCandidate(scores, groups, rng);
      for (const g of groups) assert.equal(g.filter((i) => replaced[i]).length, Math.floor(g.length / 2), `n=${n} group [${g}]`);
    }
  }
});

test('higher scores make a block more likely to be kept', () => {
  const groups = makeGroups(8, 4);
  const scores = [3, -3, 3, -3, 3, -3, 3, -3];
  const rng = new Rng(1);
  let keptHigh = 0;
  for (let t = 0; t < 500; t++) if (!sampleCandidate(scores, groups, rng)[0]) keptHigh++;
  assert.ok(keptHigh > 400, `block 0 (score 3 vs -3) kept ${keptHigh}/500 times`);
});

test('Eqs. 4-5 on a hand-worked example (updates from the pre-step scores, summed)', () => {
  const scores = [0, 1, -1];
  // candidate 0 replaces block 0 (keeps 1, 2); candidate 1 replaces block 1 (keeps 0, 2)
  const cands = [[true, false, false], [false, true, false]];
  const losses = [2, 3];
  const e0 = Math.exp(-2), e1 = Math.exp(-3);
  const r0 = e0 - (e0 + e1) / 2, r1 = e1 - (e0 + e1) / 2; // Eq. 4
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const g = (x: number) => sig(x) * (1 - sig(x));
  const want = [
    0 + 1 * r1 * g(0), // kept only by candidate 1
    1 + 1 * r0 * g(1), // kept only by candidate 0
    -1 + 1 * (r0 + r1) * g(-1), // kept by both: rewards cancel
  ];
  const { next, rewards } = scoreUpdate(scores, cands, losses, 1);
  assert.ok(Math.abs(rewards[0] - 0.0427740) < 1e-6 && Math.abs(rewards[1] + 0.0427740) < 1e-6, `rewards ${rewards}`);
  next.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-15, `score ${i}: ${v} vs ${want[i]}`));
  assert.ok(Math.abs(next[0] - (0 - 0.0427740 * 0.25)) < 1e-7);
  // η scales the step; a reward scale divides it
  const half = scoreUpdate(scores, cands, losses, 2, 4).next;
  half.forEach((v, i) => assert.ok(Math.abs(v - scores[i] - (want[i] - scores[i]) / 2) < 1e-15));
});

test('importance estimation trains harmonizers only, writes its outputs and resumes exactly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-imp-'));
  try {
    const model = new GPT2LMHeadModel({ vocabSize: 40, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 6);
    const before = model.parameters().map((p) => p.data.slice());
    const rng = new Rng(2);
    const stream = () => Int32Array.from({ length: 2000 }, (_, i) => (i % 7 === 0 ? rng.int(40) : (i * 3) % 40));
    const dT = stream(), dV = stream();
    const cfg = { ...defaultImportanceConfig(16), rank: 4, steps: 12, batchSize: 2, seqLen: 16, checkpointEvery: 4, eta: 0.5 };
    const a = estimateImportance(model, 16, dT, dV, cfg, join(dir, 'a'), { log: () => {} });
    model.parameters().forEach((p, i) => assert.deepEqual(p.data, before[i], 'the model must stay frozen'));
    assert.ok(a.scores.some((s) => s !== 0), 'RL steps moved the scores');
    assert.ok(a.harmonizers.parameters().some((p) => p.data.some((v) => v !== 0 && p.shape[1] === 4)), 'DL steps trained some harmonizer up-projection');
    assert.ok(existsSync(join(dir, 'a', 'scores.json')) && existsSync(join(dir, 'a', 'harmonizers.safetensors')));
    const loaded = loadImportance(join(dir, 'a'), 16);
    assert.deepEqual(loaded.scores, a.scores);
    // stop after 6 steps, resume: identical scores and harmonizers
    // (and, as a kill between checkpoints would leave, steps 7-8 logged and a torn line: the
    // resumed run logs each step once)
    estimateImportance(model, 16, dT, dV, cfg, join(dir, 'b'), { stopAfter: 6, log: () => {} });
    const logA = readFileSync(join(dir, 'a', 'training_log.jsonl'), 'utf8');
    const logB = join(dir, 'b', 'training_log.jsonl');
    writeFileSync(logB, readFileSync(logB, 'utf8') + logA.trim().split('\n').slice(6, 8).join('\n') + '\n{"step":9,');
    const b = estimateImportance(model, 16, dT, dV, cfg, join(dir, 'b'), { resume: true, log: () => {} });
    assert.deepEqual(b.scores, a.scores);
    assert.equal(readFileSync(logB, 'utf8'), logA);
    const pa = a.harmonizers.parameters(), pb = b.harmonizers.parameters();
    pa.forEach((p, i) => assert.deepEqual(pb[i].data, p.data));
    // Resuming a finished run returns its result without training again (the log is kept);
    // another configuration in the same directory starts over.
    const logBefore = readFileSync(join(dir, 'b', 'training_log.jsonl'), 'utf8');
    const lines: string[] = [];
    const c = estimateImportance(model, 16, dT, dV, cfg, join(dir, 'b'), { resume: true, log: (l) => lines.push(l) });
    assert.deepEqual(c.scores, a.scores);
    assert.ok(lines.some((l) => /finished before/.test(l)), lines.join('; '));
    assert.equal(readFileSync(join(dir, 'b', 'training_log.jsonl'), 'utf8'), logBefore);
    c.harmonizers.parameters().forEach((p, i) => assert.deepEqual(p.data, pa[i].data));
    const other = estimateImportance(model, 16, dT, dV, { ...cfg, steps: 4 }, join(dir, 'b'), { resume: true, log: () => {} });
    assert.equal(other.steps, 4);
    assert.equal(readFileSync(join(dir, 'b', 'training_log.jsonl'), 'utf8').trim().split('\n').length, 4);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the running-std reward scale: Welford statistics, and the divisor used by an RL step', () => {
  const xs = [0.3, -0.1, 0.25, -0.45, 0.05];
  const stats = new RunningStd();
  for (const x of xs) stats.add(x);
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1));
  assert.ok(Math.abs(stats.mean - mean) < 1e-12 && Math.abs(stats.std() - sd) < 1e-12);
  assert.equal(new RunningStd().std(), 0);
  // One RL step: the centred rewards exp(-L) - mean join the statistics, then scale them.
  const losses = [2.0, 2.5, 3.0];
  const s2 = new RunningStd();
  const scale = rewardScale({ rewardScale: 'running_std' }, s2, losses);
  const raw = losses.map((l) => Math.exp(-l));
  const m = raw.reduce((a, b) => a + b, 0) / 3;
  const centred = raw.map((v) => v - m);
  const want = Math.sqrt(centred.reduce((a, x) => a + x * x, 0) / 2);
  assert.ok(Math.abs(scale - want) < 1e-12, `${scale} vs ${want}`);
  assert.equal(s2.count, 3);
  assert.equal(rewardScale({ rewardScale: 'none' }, new RunningStd(), losses), 1, "the paper's unscaled rewards");
  assert.equal(rewardScale({ rewardScale: 'running_std' }, new RunningStd(), [2.0]), 1, 'one reward: no spread yet, no scaling');
});

test('DL steps move exactly the sampled harmonizers; RL steps move none and score every candidate on one D^V batch', () => {
  const model = new GPT2LMHeadModel({ vocabSize: 40, nPositions: 32, nEmbd: 16, nLayer: 8, nHead: 2 }, 6);
  const rng = new Rng(4);
  const dT = Int32Array.from({ length: 3000 }, () => rng.int(40));
  const dV = Int32Array.from({ length: 3000 }, () => 40 - 1 - rng.int(20)); // tells D^V windows from D^T ones
  const cfg = { ...defaultImportanceConfig(16), rank: 4, steps: 10, batchSize: 2, seqLen: 16, eta: 0.5, numGroups: 2 };
  const bank = new HarmonizerBank(8, 16, 4, 0);
  const snapshot = () => [...bank.harmonizer].map((h) => h.parameters().map((p) => p.data.slice()));
  let prev = snapshot();
  let calls: Int32Array[] = [];
  const loss = model.loss.bind(model);
  model.loss = (ids, targets, B, T) => (calls.push(ids.slice()), loss(ids, targets, B, T));
  const kinds: string[] = [];
  dynamicLayerReplace(model, bank, dT, dV, cfg, {
    onStep: (entry) => {
      const now = snapshot();
      const moved = now.flatMap((ps, i) => (ps.some((d, k) => d.some((v, j) => v !== prev[i][k][j])) ? [i] : []));
      kinds.push(entry.kind as string);
      if (entry.kind === 'dl') {
        const replaced = entry.replaced as number[];
        assert.equal(replaced.length, 4, 'floor(4/2) blocks in each of the N_g = 2 groups');
        assert.deepEqual(moved, replaced, `step ${entry.step}: moved harmonizers are the sampled ones`);
        assert.equal(calls.length, 1);
      } else {
        assert.deepEqual(moved, [], `step ${entry.step}: an RL step trains nothing`);
        assert.equal(calls.length, cfg.numCandidates);
        for (const c of calls) assert.deepEqual(c, calls[0], 'all candidates see the same D^V windows');
        assert.ok(calls[0].every((v) => v >= 20), 'RL batches come from D^V');
        assert.equal((entry.candidates as number[][]).length, cfg.numCandidates);
      }
      prev = now;
      calls = [];
    },
  });
  assert.deepEqual(kinds, ['dl', 'rl', 'dl', 'rl', 'dl', 'rl', 'dl', 'rl', 'dl', 'rl']);
  assert.equal(harmonizerGradientSteps(cfg), 5);
  assert.equal(harmonizerGradientSteps({ steps: 10, dlPerRl: 3 }), 8);
});
