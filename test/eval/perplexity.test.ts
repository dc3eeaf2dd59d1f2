// Rolling windows and perplexity metrics against hand-computed harness values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rollingWindows, countWords, documentPerplexity } from '../../src/eval/perplexity.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { crossEntropy } from '../../src/tensor/ops/loss.js';

const P = 99; // prefix token

test('windows for a document longer than the context (N=7, C=3), as the harness makes them', () => {
  const toks = [10, 11, 12, 13, 14, 15, 16];
  // get_rolling_token_windows(toks, 99, 3, 1) then make_disjoint_window, worked by hand:
  assert.deepEqual(rollingWindows(toks, P, 3), [
    { input: [99, 10, 11], scored: 3, targets: [10, 11, 12] },
    { input: [12, 13, 14], scored: 3, targets: [13, 14, 15] },
    { input: [13, 14, 15], scored: 1, targets: [16] },
  ]);
});

test('windows for documents shorter than and equal to the context', () => {
  assert.deepEqual(rollingWindows([5, 6], P, 4), [{ input: [99, 5], scored: 2, targets: [5, 6] }]);
  assert.deepEqual(rollingWindows([5, 6, 7, 8], P, 4), [{ input: [99, 5, 6, 7], scored: 4, targets: [5, 6, 7, 8] }]);
  assert.deepEqual(rollingWindows([], P, 4), []);
  // one past the context: the second window keeps a full context and predicts one token
  assert.deepEqual(rollingWindows([1, 2, 3, 4, 5], P, 4), [
    { input: [99, 1, 2, 3], scored: 4, targets: [1, 2, 3, 4] },
    { input: [1, 2, 3, 4], scored: 1, targets: [5] },
  ]);
});

test('every token is scored exactly once, each target right after its input', () => {
  for (const [N, C] of [[1, 1], [10, 1], [10, 3], [64, 16], [65, 16], [100, 7]]) {
    const toks = Array.from({ length: N }, (_, i) => 1000 + i);
    const ws = rollingWindows(toks, P, C);
    const scored = ws.flatMap((w) => w.targets);
    assert.deepEqual(scored, toks, `N=${N} C=${C}`);
    for (const w of ws) {
      assert.ok(w.input.length <= C && w.input.length >= 1);
      // the target of input position j is the token after it: input[j+1] or the next target
      const seq = [...w.input, w.targets[w.targets.length - 1]];
      assert.deepEqual(seq.slice(seq.length - w.scored), w.targets);
    }
    for (const w of ws.slice(1)) assert.equal(w.input.length, C, 'later windows see a full context');
  }
});

test('word and byte counts follow the harness (re.split(r"\\s+", doc), UTF-8 bytes)', () => {
  assert.equal(countWords('a b  c'), 3);
  assert.equal(countWords('  a b\n'), 4); // Python: ['', 'a', 'b', '']
  assert.equal(countWords('one'), 1);
  assert.equal(Buffer.byteLength('naïve', 'utf8'), 6);
});

test('perplexity of a short document equals the brute-force NLL of one forward pass', () => {
  const model = new GPT2LMHeadModel({ vocabSize: 50, nPositions: 8, nEmbd: 16, nLayer: 2, nHead: 2 }, 3);
  const doc = 'one two three';
  const toks = [4, 8, 15, 16, 23]; // any ids: the metric only needs the text for words/bytes
  const r = documentPerplexity(model, doc, toks, 49);
  const ids = Int32Array.from([49, 4, 8, 15, 16]);
  const losses = noGrad(() => crossEntropy(model.forward(ids, 1, 5), Int32Array.from(toks), { reduction: 'none' }));
  const nll = losses.toArray().reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(r.nll_sum - nll) < 1e-5, `${r.nll_sum} vs ${nll}`);
  assert.equal(r.tokens, 5);
  assert.equal(r.words, 3);
  assert.equal(r.bytes, 13);
  assert.ok(Math.abs(r.word_perplexity - Math.exp(nll / 3)) < 1e-9 * r.word_perplexity);
  assert.ok(Math.abs(r.token_perplexity - Math.exp(nll / 5)) < 1e-9 * r.token_perplexity);
  assert.ok(Math.abs(r.bits_per_byte - nll / 13 / Math.LN2) < 1e-12);
});

test('a long document: batched windows give the same NLL as one window at a time', () => {
  const model = new GPT2LMHeadModel({ vocabSize: 50, nPositions: 8, nEmbd: 16, nLayer: 2, nHead: 2 }, 4);
  const toks = Array.from({ length: 37 }, (_, i) => (i * 7) % 49);
  const one = documentPerplexity(model, 'x', toks, 49, { batchSize: 1 });
  const many = documentPerplexity(model, 'x', toks, 49, { batchSize: 8 });
  assert.equal(one.windows, Math.ceil(37 / 8));
  assert.ok(Math.abs(one.nll_sum - many.nll_sum) < 1e-4);
});
