// Multiple-choice scoring against hand-computed values and a brute-force reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { choiceLogLikelihoods, encodePair, scoreMultipleChoice, meanStderr, Encoder } from '../../src/eval/multiple_choice.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { logSoftmax } from '../../src/tensor/ops/loss.js';

const V = 50;
const charEncoder: Encoder = { encode: (t) => [...t].map((c) => c.charCodeAt(0) % (V - 1)), prefixTokenId: V - 1 };

test('acc, acc_norm (by choice length without the leading space) and standard errors, by hand', () => {
  const items = [
    { context: 'c1', choices: ['a', 'bbbb'], label: 1 },
    { context: 'c2', choices: ['xx', 'y'], label: 0 },
    { context: 'c3', choices: ['p', 'q'], label: 0 },
  ];
  // item 1: acc picks "a" (-2 > -4), acc_norm picks "bbbb" (-4/4 = -1 > -2/1 = -2)
  const ll = [[-2, -4], [-1, -3], [-5, -1]];
  const r = scoreMultipleChoice(items, ll);
  assert.equal(r.n, 3);
  assert.ok(Math.abs(r.acc - 1 / 3) < 1e-12);
  assert.ok(Math.abs(r.acc_norm - 2 / 3) < 1e-12);
  // sample std (ddof 1) / sqrt(n): both variances are 1/3, so both errors are 1/3
  assert.ok(Math.abs(r.acc_stderr - 1 / 3) < 1e-12);
  assert.ok(Math.abs(r.acc_norm_stderr - 1 / 3) < 1e-12);
  assert.ok(Math.abs(meanStderr([1, 0, 1, 1]).stderr - Math.sqrt(0.25 / 4)) < 1e-12);
});

test('request encoding follows the harness: trailing context spaces move to the continuation', () => {
  assert.deepEqual(encodePair(charEncoder, 'Q: ', ' A'), { context: charEncoder.encode('Q:'), continuation: charEncoder.encode('  A') });
  assert.deepEqual(encodePair(charEncoder, 'Q:', ' A'), { context: charEncoder.encode('Q:'), continuation: charEncoder.encode(' A') });
  assert.deepEqual(encodePair(charEncoder, '', ' A'), { context: [V - 1], continuation: charEncoder.encode(' A') });
});

test('batched, padded log-likelihoods equal one unpadded forward per request', () => {
  const model = new GPT2LMHeadModel({ vocabSize: V, nPositions: 64, nEmbd: 16, nLayer: 2, nHead: 2 }, 9);
  const items = [
    { context: 'The cat sat on the', choices: ['mat', 'refrigerator', 'a'], label: 0 },
    { context: 'One two', choices: ['three', 'four five six'], label: 0 },
    { context: '', choices: ['empty context'], label: 0 },
  ];
  const batched = choiceLogLikelihoods(model, charEncoder, items, { batchSize: 4 });
  items.forEach((it, i) =>
    it.choices.forEach((ch, j) => {
      const { context, continuation } = encodePair(charEncoder, it.context, ' ' + ch);
      const seq = [...context, ...continuation];
      const input = seq.slice(0, -1);
      const lp = noGrad(() => logSoftmax(model.forward(Int32Array.from(input), 1, input.length)));
      let want = 0;
      for (let k = 0; k < continuation.length; k++) {
        const pos = input.length - continuation.length + k;
        want += lp.data[pos * V + continuation[k]];
      }
      assert.ok(Math.abs(batched[i][j] - want) < 1e-4, `item ${i} choice ${j}: ${batched[i][j]} vs ${want}`);
    }),
  );
});

test('requests longer than the context keep its last tokens, as the harness truncates', () => {
  const model = new GPT2LMHeadModel({ vocabSize: V, nPositions: 8, nEmbd: 16, nLayer: 1, nHead: 2 }, 2);
  const item = { context: 'a long context that exceeds eight', choices: ['tokens'], label: 0 };
  const [[got]] = choiceLogLikelihoods(model, charEncoder, [item]);
  const seq = charEncoder.encode(item.context + ' tokens').slice(-9);
  const input = seq.slice(0, -1);
  const lp = noGrad(() => logSoftmax(model.forward(Int32Array.from(input), 1, 8)));
  let want = 0;
  const cont = charEncoder.encode(' tokens');
  for (let k = 0; k < cont.length; k++) want += lp.data[(8 - cont.length + k) * V + cont[k]];
  assert.ok(Math.abs(got - want) < 1e-4, `${got} vs ${want}`);
});
