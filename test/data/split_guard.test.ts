// The split guard: a test split opened inside a selection stage is refused (also from an
// evaluation nested in a selection), openings are recorded with their stage, and a
// fine-tuning run whose validation and test rankings of the learning rates disagree
// follows validation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SplitGuard, TestSplitInSelectionError, guardedSplits, splitGuard } from '../../src/data/split_guard.js';
import { finetune, scoreTask } from '../../src/train/finetune.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { loadModel } from '../../src/models/load.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import type { Task } from '../../src/data/tasks.js';
import { writeCheckpointWithGpt2Tokenizer } from '../helpers.js';

test('a test split cannot be opened inside a selection stage, even from a nested evaluation', () => {
  const g = new SplitGuard();
  g.open('t', 'test'); // outside every stage: a user's eval
  g.during('lr search', 'selection', () => {
    g.open('t', 'validation');
    assert.throws(() => g.open('t', 'test'), (e: unknown) => e instanceof TestSplitInSelectionError && /lr search/.test(e.message) && /"t"/.test(e.message));
    assert.throws(() => g.during('score a candidate', 'evaluation', () => g.open('t', 'test')), /lr search > score a candidate/);
  });
  g.during('final', 'evaluation', () => g.open('t', 'test'));
  assert.deepEqual(g.accesses.map((a) => [a.stage, a.purpose, a.split]), [
    [null, null, 'test'], ['lr search', 'selection', 'validation'], ['lr search', 'selection', 'test'],
    ['score a candidate', 'selection', 'test'], ['final', 'evaluation', 'test'],
  ]);
});

test('guarded splits load once, but every read is an opening', () => {
  let loads = 0;
  const splits = guardedSplits('x', (s) => (loads++, s));
  splitGuard.clear();
  assert.equal(splits.validation, 'validation');
  assert.equal(splits.validation, 'validation');
  assert.equal(loads, 1);
  assert.throws(() => splitGuard.during('pick', 'selection', () => splits.test), TestSplitInSelectionError);
  assert.equal(splitGuard.accesses.length, 3);
});

test('fine-tuning selects the learning rate on validation when test ranks the rates the other way', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scaleot-guard-'));
  try {
    writeCheckpointWithGpt2Tokenizer(join(dir, 'model'), new GPT2LMHeadModel({ vocabSize: 50257, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2 }, 3));
    // Train and validation repeat one sentence; test is other text. Training hard on the
    // sentence helps validation and hurts test, so the two splits rank the lrs oppositely.
    const same = Array.from({ length: 30 }, () => 'the cat sat on the mat.').join(' ');
    const other = 'Quarterly revenue grew in every region except the north, where storms closed two plants.';
    const lm = (documents: string[]): Task => ({ kind: 'lm', name: 'guard', documents });
    const splits = guardedSplits('guard', (s) => (s === 'test' ? lm([other]) : lm([same])));
    // First the model learns the test text, so that training on the sentence makes it forget.
    finetune(join(dir, 'model'), { train: lm([other]), validation: lm([other]), test: lm([other]) }, join(dir, 'knows-test'), { lrs: [1e-2], steps: 40, batchSize: 2, seqLen: 16, seed: 0, log: () => {} });
    const lrs = [1e-6, 3e-2];
    splitGuard.clear();
    const r = finetune(join(dir, 'knows-test', 'best'), splits, join(dir, 'ft'), { lrs, steps: 25, batchSize: 2, seqLen: 16, seed: 0, log: () => {} });
    // The disagreement, measured here (outside the run): test prefers the small lr.
    const tok = TextTokenizer.fromDir(join(dir, 'knows-test', 'best'));
    const byLr = r.runs.map((x) => x.validation.value);
    assert.ok(byLr[1] < byLr[0], `validation prefers 3e-2: ${byLr}`);
    assert.ok(r.test.value > r.zeroShot.test.value, `training on the sentence hurt test: FT ${r.test.value} vs ZS ${r.zeroShot.test.value}`);
    assert.equal(r.bestLr, 3e-2, 'selection followed validation');
    const selected = scoreTask(loadModel(join(dir, 'ft', 'best')), tok, lm([other]));
    assert.equal(selected.value, r.test.value, 'the reported test score is the selected model\'s');
    assert.deepEqual(splitGuard.accesses.filter((a) => a.split === 'test').map((a) => a.stage), ['ZS test', 'FT test']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
