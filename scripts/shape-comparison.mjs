// The base-model issue's shape comparison: two or three GPT-2 shapes pre-trained on the
// larger corpus at equal compute (training FLOPs: 3 x the forward's 2 x (block weights +
// LM head) + causal attention), with the same tokenizer, schedule shape and seed; the shape
// is chosen on D^V loss. Writes docs/evidence/base-model-shapes.json.
// Usage: node scripts/shape-comparison.mjs [TFLOPS_PER_SHAPE] [CONFIG ...]
// (defaults: 60 TFLOP, configs/shapes/shape-{a,b,c}.json). Needs the larger corpus
// (node dist/src/cli/main.js data --corpus) and a tokenizer trained on it in
// runs/shapes/tokenizer.json (made on first use).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pretrain, readPretrainConfig } from '../dist/src/train/pretrain.js';
import { defaultDataDir, ensureData } from '../dist/src/data/build.js';
import { defaultCorpusDir, ensureCorpus } from '../dist/src/data/corpus.js';

const root = new URL('..', import.meta.url).pathname;
const tflops = Number(process.argv[2] ?? 60);
const configs = process.argv.length > 3 ? process.argv.slice(3) : ['a', 'b', 'c'].map((s) => join(root, 'configs', 'shapes', `shape-${s}.json`));
const dataDir = defaultDataDir(root);
const data = ensureData(dataDir);
const corpusDir = ensureCorpus(defaultCorpusDir(root), dataDir, data.manifest).dir;
const log = (s) => process.stderr.write(s + '\n');

/** Training FLOPs per token of a GPT-2 shape. */
function flopsPerToken(c) {
  const blocks = 12 * c.n_layer * c.n_embd * c.n_embd;
  const head = c.vocab_size * c.n_embd;
  const attention = 2 * c.n_layer * c.n_positions * c.n_embd; // QKᵀ and AV, causal half
  return 3 * (2 * (blocks + head) + attention);
}

const tokDir = join(root, 'runs', 'shapes');
const results = [];
for (const path of configs) {
  const base = readPretrainConfig(path);
  const perStep = flopsPerToken(base) * base.batch_size * base.n_positions;
  const steps = Math.round((tflops * 1e12) / perStep);
  const cfg = { ...base, steps, warmup_steps: Math.max(10, Math.round(steps * 0.05)), eval_every: Math.max(10, Math.round(steps / 5)), checkpoint_every: Math.max(10, Math.round(steps / 5)) };
  const out = join(tokDir, cfg.name);
  mkdirSync(out, { recursive: true });
  // One tokenizer for every shape: trained by the first run, copied to the others.
  const shared = join(tokDir, 'tokenizer.json');
  if (existsSync(shared)) copyFileSync(shared, join(out, 'tokenizer.json'));
  log(`${cfg.name}: ${(flopsPerToken(base) / 1e6).toFixed(1)} MFLOP/token, ${steps} steps of ${base.batch_size}x${base.n_positions} for ${tflops} TFLOP`);
  const r = pretrain(cfg, dataDir, out, { corpusDir, resume: existsSync(shared), log });
  if (!existsSync(shared)) copyFileSync(join(out, 'tokenizer.json'), shared);
  const curve = readFileSync(join(out, 'training_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.val_loss !== undefined).map((e) => ({ step: e.step, val_loss: e.val_loss }));
  results.push({
    config: relative(root, path), name: cfg.name, n_layer: cfg.n_layer, n_embd: cfg.n_embd, n_head: cfg.n_head,
    parameters: null, mflop_per_token: flopsPerToken(base) / 1e6, steps, tokens: steps * base.batch_size * base.n_positions,
    seconds: Math.round(r.seconds), tokens_per_s: Math.round((steps * base.batch_size * base.n_positions) / r.seconds),
    final_train_loss: r.finalTrainLoss, dv_loss: r.validationLoss, curve,
  });
  const cfgOut = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
  results[results.length - 1].parameters = 12 * cfgOut.n_layer * cfgOut.n_embd ** 2 + 13 * cfgOut.n_layer * cfgOut.n_embd + (cfgOut.vocab_size + cfgOut.n_positions + 2) * cfgOut.n_embd;
  log(`${cfg.name}: D^V loss ${r.validationLoss.toFixed(4)} after ${steps} steps, ${Math.round(r.seconds)} s`);
}
const best = results.reduce((a, b) => (b.dv_loss < a.dv_loss ? b : a));
mkdirSync(join(root, 'docs', 'evidence'), { recursive: true });
writeFileSync(join(root, 'docs', 'evidence', 'base-model-shapes.json'), JSON.stringify({
  what: 'GPT-2 shapes pre-trained on the larger corpus at equal training FLOPs; chosen on D^V loss',
  command: `node scripts/shape-comparison.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  tflop_per_shape: tflops, corpus: relative(root, corpusDir), chosen: best.name, results,
}, null, 2) + '\n');
console.log(JSON.stringify({ chosen: best.name, results: results.map((r) => ({ name: r.name, dv_loss: r.dv_loss, seconds: r.seconds })) }));
