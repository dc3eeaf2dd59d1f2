// Pre-training end to end on a tiny corpus: the tokenizer is trained and shipped, the loss
// falls, the result is a loadable checkpoint, a run stopped at a checkpoint and resumed ends
// with the same weights as an uninterrupted run (and, killed between two checkpoints, with
// the same step log); continued pre-training starts from the given model's weights and
// tokenizer and draws its windows from sources at fixed shares.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pretrain, readPretrainConfig, PretrainConfig } from '../../src/train/pretrain.js';
import { mixedWindows } from '../../src/data/streams.js';
import { pretrainingCorpusOf } from '../../src/data/corpus.js';
import { Rng } from '../../src/util/rng.js';
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

test('a run killed between two checkpoints logs each step once after resuming, as an uninterrupted run does', () => {
  const out = join(dir, 'killed');
  pretrain(cfg, join(dir, 'data'), out, { stopAfter: 6, log: () => {} });
  // What a kill at step 8 leaves: steps 7 and 8 logged, the state still at step 6, a torn line.
  const logPath = join(out, 'training_log.jsonl');
  const straight = readFileSync(join(dir, 'straight', 'training_log.jsonl'), 'utf8').trim().split('\n');
  writeFileSync(logPath, readFileSync(logPath, 'utf8') + straight.slice(6, 8).join('\n') + '\n{"step":9,"lo');
  pretrain(cfg, join(dir, 'data'), out, { resume: true, log: () => {} });
  const log = readFileSync(logPath, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(log.map((e) => e.step), Array.from({ length: 12 }, (_, i) => i + 1));
  const ref = straight.map((l) => JSON.parse(l));
  for (let i = 0; i < 12; i++) {
    assert.equal(log[i].loss, ref[i].loss, `step ${i + 1}: loss`);
    assert.equal(log[i].loss_avg, ref[i].loss_avg, `step ${i + 1}: the running mean carries on from the checkpoint`);
  }
});

test('continued pre-training starts from the model it names (weights, tokenizer, its tokens counted) and mixes sources at fixed shares', () => {
  const init = join(dir, 'straight');
  if (!existsSync(join(init, 'model.safetensors'))) pretrain(cfg, join(dir, 'data'), init, { log: () => {} });
  const corpus = join(dir, 'mixed-corpus');
  mkdirSync(corpus, { recursive: true });
  const doc = (src: string, i: number) => JSON.stringify({ id: `${src}/${i}`, text: `${src} document ${i}: the lazy dog sleeps while the fox runs, ${i} times.`.repeat(5) });
  writeFileSync(join(corpus, 'train.jsonl'), [...Array.from({ length: 30 }, (_, i) => doc('old', i)), ...Array.from({ length: 4 }, (_, i) => doc('modern', i))].join('\n') + '\n');
  writeFileSync(join(corpus, 'dv.jsonl'), doc('old', 99) + '\n');
  const out = join(dir, 'continued');
  // An lr too small to move anything: the result must be the initial model's weights.
  const cont: PretrainConfig = { ...cfg, steps: 4, lr: 1e-12, min_lr: 1e-12, weight_decay: 0, init_from: init, mix: { modern: 0.5 } };
  pretrain(cont, join(dir, 'data'), out, { corpusDir: corpus, log: () => {} });
  assert.equal(readFileSync(join(out, 'tokenizer.json'), 'utf8'), readFileSync(join(init, 'tokenizer.json'), 'utf8'), 'the tokenizer is the initial model\'s');
  const a = SafetensorsFile.open(join(init, 'model.safetensors')), b = SafetensorsFile.open(join(out, 'model.safetensors'));
  for (const n of a.names()) {
    const x = a.readFloat32(n), y = b.readFloat32(n);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(x[i] - y[i]) <= 1e-6, `${n}[${i}]: ${x[i]} vs ${y[i]}`);
  }
  a.close();
  b.close();
  const record = JSON.parse(readFileSync(join(out, 'pretraining.json'), 'utf8'));
  assert.equal(record.tokens, 12 * 4 * 32 + 4 * 4 * 32, 'the initial model\'s tokens count');
  assert.deepEqual(record.continued_from, { model: '../straight', tokens: 12 * 4 * 32 });
  assert.equal(record.config.init_from, '../straight', 'no machine paths in the record');

  // Errors name what is wrong.
  assert.throws(() => pretrain({ ...cont, n_embd: 32 }, join(dir, 'data'), join(dir, 'bad1'), { corpusDir: corpus, log: () => {} }), /straight\/config\.json has n_embd 16, the configuration says 32/);
  assert.throws(() => pretrain({ ...cont, mix: { nosuch: 0.3 } }, join(dir, 'data'), join(dir, 'bad2'), { corpusDir: corpus, log: () => {} }), /0 tokens of source "nosuch", fewer than one batch/);
  const path = join(dir, 'cfg.json');
  writeFileSync(path, JSON.stringify({ ...cfg, init_from: 'straight', mix: { modern: 0.6, old: 0.5 } }));
  assert.throws(() => readPretrainConfig(path), /cfg\.json: the shares in "mix" add up to 1\.1/);
  writeFileSync(path, JSON.stringify({ ...cfg, init_from: 'straight', mix: { modern: 0.5 } }));
  assert.equal(readPretrainConfig(path).init_from, join(dir, 'straight'), 'init_from is relative to the configuration file');
});

test('mixed windows follow the shares, whatever the streams\' sizes, and are deterministic', () => {
  const small = new Int32Array(100).fill(1), large = new Int32Array(100000).fill(2);
  const draw = () => {
    const rng = new Rng(7);
    let fromSmall = 0;
    for (let k = 0; k < 100; k++) {
      const { ids, targets } = mixedWindows([{ share: 0.25, stream: small }, { share: 0.75, stream: large }], 8, 16, rng);
      for (let b = 0; b < 8; b++) {
        assert.equal(ids[b * 16], targets[b * 16], 'a window comes from one stream');
        if (ids[b * 16] === 1) fromSmall++;
      }
    }
    return fromSmall / 800;
  };
  const share = draw();
  assert.ok(Math.abs(share - 0.25) < 0.05, `share of the small stream ${share}`);
  assert.equal(draw(), share);
});

test('the shipped pre-training configurations parse; base-24m continues the committed base-24', () => {
  for (const f of ['base-16.json', 'base-24.json', 'base-24m.json', 'base-24m2.json']) readPretrainConfig(join('configs', f));
  const m = readPretrainConfig(join('configs', 'base-24m.json'));
  assert.equal(m.init_from, join(process.cwd(), 'models', 'scaleot-base-24'));
  assert.deepEqual([m.corpus, m.mix], ['modern', { 'nlp-corpus': 0.5 }]);
});

test('an unknown corpus name is refused with the file and field, in a configuration and in a model record', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corpus-name-'));
  try {
    const cfg = JSON.parse(readFileSync(join('configs', 'base-24.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ ...cfg, corpus: 'huge' }));
    assert.throws(() => readPretrainConfig(join(dir, 'bad.json')), /bad\.json: "corpus" must be one of "small", "large", "modern", got "huge"/);
    writeFileSync(join(dir, 'pretraining.json'), JSON.stringify({ config: { corpus: 7 } }));
    assert.throws(() => pretrainingCorpusOf(dir), /pretraining\.json: config\.corpus must be one of "small", "large", "modern", got 7/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
