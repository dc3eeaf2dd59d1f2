// Probe: ten training steps of models/scaleot-base-24 (16 x 256 tokens, every parameter, through
// trainLoop with the buffer pool) for a CPU profile. From the repository root, after a build:
//   node --cpu-prof --cpu-prof-dir=PROFILES bench/probes/step_profile.mjs [bf16|fp32]
//   python3 bench/probes/cpuprofile_summary.py PROFILES/*.cpuprofile
import { loadModel } from '../../dist/src/models/load.js';
import { AdamW } from '../../dist/src/optim/adamw.js';
import { trainLoop } from '../../dist/src/train/loop.js';
import { Rng } from '../../dist/src/util/rng.js';
const precision = process.argv[2] || 'bf16';
const model = loadModel(new URL('../../models/scaleot-base-24', import.meta.url).pathname);
const B = 16, T = 256, V = model.vocabSize, rng = new Rng(1);
const ids = Int32Array.from({ length: B * T }, () => rng.int(V)), targets = Int32Array.from({ length: B * T }, () => rng.int(V));
const params = model.parameters(); model.train();
let t0 = performance.now();
trainLoop({ steps: 10, seed: 0, precision }, { optimizer: new AdamW(params, { lr: 1e-4 }), params, stateModule: model,
  forward: () => model.loss(ids, targets, B, T), afterStep: (r) => { const t = performance.now(); console.error(`step ${r.step} ${(t - t0).toFixed(0)} ms`); t0 = t; } });
