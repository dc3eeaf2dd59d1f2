// Sampling: seeded runs repeat, top-k = 1 is greedy, a tiny top-p keeps only the best
// token, and high-temperature sampling spreads over the vocabulary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GPT2LMHeadModel } from '../../src/models/gpt2.js';
import { generate } from '../../src/inference/generate.js';

const model = new GPT2LMHeadModel({ vocabSize: 40, nPositions: 64, nEmbd: 16, nLayer: 2, nHead: 2 }, 11);
const prompt = [3, 1, 4, 1, 5];

test('seeded sampling is reproducible and depends on the seed', () => {
  const a = generate(model, prompt, { maxNewTokens: 20, temperature: 1.5, seed: 1 });
  const b = generate(model, prompt, { maxNewTokens: 20, temperature: 1.5, seed: 1 });
  const c = generate(model, prompt, { maxNewTokens: 20, temperature: 1.5, seed: 2 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('top-k = 1 and a tiny top-p reduce sampling to greedy decoding', () => {
  const greedy = generate(model, prompt, { maxNewTokens: 12 });
  assert.deepEqual(generate(model, prompt, { maxNewTokens: 12, temperature: 1, topK: 1, seed: 5 }), greedy);
  assert.deepEqual(generate(model, prompt, { maxNewTokens: 12, temperature: 1, topP: 1e-9, seed: 5 }), greedy);
});

test('generation stops at EOS and refuses to run past the context', () => {
  const greedy = generate(model, prompt, { maxNewTokens: 12 });
  const stopAt = greedy[3];
  const out = generate(model, prompt, { maxNewTokens: 12, eosTokenId: stopAt });
  assert.equal(out[out.length - 1], stopAt);
  assert.ok(out.length <= 4);
  assert.throws(() => generate(model, prompt, { maxNewTokens: 60 }), /exceed the model's context of 64/);
});
