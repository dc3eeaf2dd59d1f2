// Probe: GPT-2-small (random weights) forward passes of 2 x 256 tokens under noGrad in a buffer
// scope, as `npm run bench` times them, for a CPU profile. From the repository root, after a build:
//   node --cpu-prof --cpu-prof-dir=PROFILES bench/probes/forward_profile.mjs [bf16|fp32]
//   python3 bench/probes/cpuprofile_summary.py PROFILES/*.cpuprofile
import { GPT2LMHeadModel } from '../../dist/src/models/gpt2.js';
import { noGrad } from '../../dist/src/tensor/autograd.js';
import { withBufferScope } from '../../dist/src/tensor/pool.js';
import { withMatmulPrecision } from '../../dist/src/tensor/ops/matmul.js';
import { Rng } from '../../dist/src/util/rng.js';

const precision = process.argv[2] || 'bf16';
const cfg = { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, nInner: 3072, layerNormEpsilon: 1e-5,
  residDropout: 0, embdDropout: 0, attnDropout: 0, initializerRange: 0.02 };
const m = new GPT2LMHeadModel(cfg, 0);
const B = 2, T = 256, rng = new Rng(3);
const ids = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
withMatmulPrecision(precision, () => {
  for (let r = 0; r < 12; r++) {
    const t0 = performance.now();
    withBufferScope(() => { noGrad(() => m.forward(ids, B, T)); });
    console.error(`forward ${r}: ${(performance.now() - t0).toFixed(0)} ms`);
  }
});
