// Pre-training end to end on a tiny corpus: the tokenizer is trained and shipped, the loss
// falls, the result is a loadable checkpoint, and a run stopped at a checkpoint and resumed
// ends with the same weights as an uninterrupted run.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pretrain, PretrainConfig } from '../../src/train/pretrain.js';
import { loadModel } from '../../src/models/load.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';

let dir = '';
const cfg: PretrainConfig = {
  name: 'tiny', vocab_size: 320, n_layer: 2, n_embd: 16, n_head: 2, n_positions: 32, batch_size: 4, steps: 12,
  lr: 3e-3, min_lr: 3e-4, warmup_steps: 2, weight_decay: 0.1, grad_clip: 1, eval_every: 6, checkpoint_every: 6,
  eval_batches: 2, seed: 1, save_dtype: 'F32',
};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'scaleot-pt-'));
  mkdirSync(join(dir, 'data', 'pretrain'), { recursive: true });
  const doc = (i: number) => JSON.stringify({ id: `d${i}`, text: `Document ${i}. The quick brown fox jumps over the lazy dog, again and again, ${i} times.`.repeat(6) });
  writeFileSync(join(dir, 'data', 'pretrain', 'train.jsonl'), Array.from({ length: 40 }, (_, i) => doc(i)).join('\n') + '\n');
  writeFileSync(join(dir, 'data', 'pretrain', 'dv.jsonl'), Array.from({ length: 5 }, (_, i) => doc(100 + i)).join('\n') + '\n');
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('pretrain writes a loadable checkpoint with its tokenizer, and the loss falls', () => {
  const out = join(dir, 'straight');
  const r = pretrain(cfg, join(dir, 'data'), out, { log: () => {} });
  const model = loadModel(out);
  const tok = TextTokenizer.fromDir(out);
  assert.equal(model.vocabSize, 320);
  assert.equal(tok.tokenToId('<|endoftext|>'), 319);
  assert.equal(tok.prefixTokenId, 319);
  const log = readFileSync(join(out, 'training_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(log.length, 12);
  assert.ok(log[11].loss < log[0].loss, `loss ${log[0].loss} -> ${log[11].loss}`);
  assert.ok(Number.isFinite(r.validationLoss));
  assert.ok(!existsSync(join(out, 'state')), 'the resumable state is removed once done');
});

test('a pre-training run stopped and resumed ends with the same weights as an uninterrupted one', () => {
  const out = join(dir, 'resumed');
  const part = pretrain(cfg, join(dir, 'data'), out, { stopAfter: 5, log: () => {} });
  assert.equal(part.steps, 5);
  assert.ok(existsSync(join(out, 'state', 'state.json')));
  assert.ok(!existsSync(join(out, 'model.safetensors')));
  pretrain(cfg, join(dir, 'data'), out, { resume: true, log: () => {} });
  const full = SafetensorsFile.open(join(dir, 'straight', 'model.safetensors'));
  const again = SafetensorsFile.open(join(out, 'model.safetensors'));
  for (const n of full.names()) assert.deepEqual(again.readFloat32(n), full.readFloat32(n), `${n}: runs are not reproducible`);
  full.close();
  again.close();
});
