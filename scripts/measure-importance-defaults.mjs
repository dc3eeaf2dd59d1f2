// Measures how far Dynamic LayerReplace's scores separate within the default budget, for
// the paper's setting (η = 1, raw rewards) and ours (η = 0.05, rewards divided by their
// running std), on the shipped base model. Writes docs/evidence/importance-defaults.json.
// Usage: node scripts/measure-importance-defaults.mjs [MODEL_DIR] [STEPS]
// Paths are recorded relative to the repository.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { jsonlTokenStream } from '../dist/src/data/streams.js';
import { loadModel, TextTokenizer, estimateImportance, defaultImportanceConfig, ensureData, defaultDataDir } from '../dist/src/index.js';

const root = new URL('..', import.meta.url).pathname;
const modelDir = process.argv[2] ?? join(root, 'models', 'scaleot-base-16');
const steps = Number(process.argv[3] ?? 400);
const dataDir = defaultDataDir(root);
ensureData(dataDir);
const tok = TextTokenizer.fromDir(modelDir);
const stream = (f) => jsonlTokenStream(tok, join(dataDir, 'pretrain', f), tok.prefixTokenId, 'before');
const dT = stream('dt.jsonl'), dV = stream('dv.jsonl');
const spearman = (a, b) => {
  const rank = (x) => { const o = x.map((v, i) => [v, i]).sort((p, q) => p[0] - q[0]); const r = new Array(x.length); o.forEach(([, i], k) => (r[i] = k)); return r; };
  const ra = rank(a), rb = rank(b), n = a.length;
  const d2 = ra.reduce((s, v, i) => s + (v - rb[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
};
const results = {};
for (const [name, over] of [['paper: eta 1, raw rewards', { eta: 1, rewardScale: 'none' }], ['default: eta 0.05, running-std rewards', { eta: 0.05, rewardScale: 'running_std' }]]) {
  const model = loadModel(modelDir);
  const cfg = { ...defaultImportanceConfig(128), steps, ...over };
  const out = join(root, 'runs', `imp-${over.rewardScale}`);
  const t0 = Date.now();
  const r = estimateImportance(model, 128, dT, dV, cfg, out, { log: (s) => process.stderr.write(`[${name}] ${s}\n`) });
  const log = readFileSync(join(out, 'training_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const half = log[Math.floor(log.length / 2) - 1].scores;
  const s = r.scores;
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  results[name] = {
    config: cfg,
    seconds: Math.round((Date.now() - t0) / 1000),
    scores: s.map((v) => Math.round(v * 1e4) / 1e4),
    spread: Math.max(...s) - Math.min(...s),
    std: Math.sqrt(s.reduce((a, v) => a + (v - mean) ** 2, 0) / s.length),
    spearman_half_vs_end: spearman(half, s),
    final_dl_loss: log.filter((e) => e.kind === 'dl').slice(-20).reduce((a, e, _, arr) => a + e.loss / arr.length, 0),
  };
  console.log(name, JSON.stringify(results[name]));
}
mkdirSync(join(root, 'docs', 'evidence'), { recursive: true });
writeFileSync(join(root, 'docs', 'evidence', 'importance-defaults.json'), JSON.stringify({ model: relative(root, modelDir), steps, results }, null, 2) + '\n');
