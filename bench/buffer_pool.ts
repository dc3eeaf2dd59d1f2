// What the buffer pool (src/tensor/pool.ts) changes in the base model's own workloads:
// a training step of scaleot-base-24 (16 x 256 tokens, every parameter, through trainLoop)
// and a scoring batch (16 x 256, no gradients), with the pool on and off. Each measurement
// is a fresh child process (peak RSS is per process), alternating on/off over the rounds so
// that drifts of the machine hit both alike. Reports median step time, the collector's
// events and time per step (PerformanceObserver 'gc'), and peak RSS.
//   node dist/bench/buffer_pool.js [--rounds 3] [--steps 12] [--precision fp32|bf16]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { loadModel } from '../src/models/load.js';
import { AdamW } from '../src/optim/adamw.js';
import { trainLoop } from '../src/train/loop.js';
import { noGrad } from '../src/tensor/autograd.js';
import { crossEntropy } from '../src/tensor/ops/loss.js';
import { withBufferScope, clearPool, poolStats } from '../src/tensor/pool.js';
import type { MatmulPrecision } from '../src/tensor/ops/matmul.js';
import { Rng } from '../src/util/rng.js';
import { packageRoot } from '../src/util/root.js';

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

interface Measurement {
  pool: boolean;
  work: 'step' | 'score';
  medianMs: number;
  minMs: number;
  maxMs: number;
  gcPerStep: number;
  gcMsPerStep: number;
  peakRssMiB: number;
  /** Arrays the pool had to allocate after the warm-up (0: every array was reused); null without the pool. */
  freshArraysAfterWarmup: number | null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** One child process's measurement. */
async function measure(pool: boolean, work: 'step' | 'score', steps: number, precision: MatmulPrecision): Promise<Measurement> {
  if (!pool) clearPool(0);
  const model = loadModel(`${packageRoot()}/models/scaleot-base-24`);
  const B = 16, T = 256, V = model.vocabSize;
  const rng = new Rng(1);
  const ids = Int32Array.from({ length: B * T }, () => rng.int(V));
  const targets = Int32Array.from({ length: B * T }, () => rng.int(V));
  // GC entries are delivered asynchronously (after the synchronous loop): keep their start
  // times and count those after the warm-up once the loop is done.
  const gcEntries: { start: number; ms: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcEntries.push({ start: e.startTime, ms: e.duration });
  });
  observer.observe({ entryTypes: ['gc'] });
  const warmup = 3;
  const times: number[] = [];
  let warmupEnd = Infinity, freshAtWarmup = 0;
  let t0 = performance.now();
  const tick = (done: number) => {
    const t = performance.now();
    if (done > warmup) times.push(t - t0);
    if (done === warmup) {
      warmupEnd = t;
      freshAtWarmup = poolStats().fresh;
    }
    t0 = t;
  };
  if (work === 'step') {
    const params = model.parameters();
    model.train();
    trainLoop({ steps: warmup + steps, seed: 0, precision }, {
      optimizer: new AdamW(params, { lr: 1e-4 }), params, stateModule: model,
      forward: () => model.loss(ids, targets, B, T),
      afterStep: (r) => tick(r.step),
    });
  } else {
    model.eval();
    for (let s = 1; s <= warmup + steps; s++) {
      withBufferScope(() => noGrad(() => crossEntropy(model.forward(ids, B, T), targets, { reduction: 'none' }).data[0]));
      tick(s);
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 200));
  observer.disconnect();
  const gcAfter = gcEntries.filter((e) => e.start >= warmupEnd);
  return {
    pool, work,
    medianMs: median(times), minMs: Math.min(...times), maxMs: Math.max(...times),
    gcPerStep: gcAfter.length / steps, gcMsPerStep: gcAfter.reduce((a, e) => a + e.ms, 0) / steps,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    freshArraysAfterWarmup: pool ? poolStats().fresh - freshAtWarmup : null,
  };
}

async function main(): Promise<void> {
  const precision = flag('--precision', 'fp32') as MatmulPrecision;
  const steps = Number(flag('--steps', '12'));
  if (process.argv.includes('--child')) {
    const m = await measure(flag('--pool', 'on') === 'on', flag('--work', 'step') as 'step' | 'score', steps, precision);
    process.stdout.write(JSON.stringify(m) + '\n');
    return;
  }
  const rounds = Number(flag('--rounds', '3'));
  const self = fileURLToPath(import.meta.url);
  const results: Measurement[] = [];
  for (let r = 1; r <= rounds; r++) {
    for (const work of ['step', 'score'] as const) {
      // Alternate which mode goes first, so a slow spell does not always hit the same one.
      const order = r % 2 ? ['off', 'on'] : ['on', 'off'];
      for (const pool of order) {
        const child = spawnSync(process.execPath, [self, '--child', '--pool', pool, '--work', work, '--steps', String(steps), '--precision', precision], { encoding: 'utf8' });
        if (child.status !== 0) throw new Error(`buffer_pool bench child (${work}, pool ${pool}) failed:\n${child.stderr}`);
        const m = JSON.parse(child.stdout.trim().split('\n').pop() as string) as Measurement;
        results.push(m);
        console.log(`round ${r} ${work.padEnd(5)} pool ${pool.padEnd(3)}: ${m.medianMs.toFixed(0)} ms (${m.minMs.toFixed(0)}–${m.maxMs.toFixed(0)}), ${m.gcPerStep.toFixed(1)} GCs / ${m.gcMsPerStep.toFixed(1)} ms per step, peak RSS ${m.peakRssMiB.toFixed(0)} MiB, fresh arrays after warm-up ${m.freshArraysAfterWarmup ?? '-'}`);
      }
    }
  }
  console.log(JSON.stringify({ precision, steps, rounds, results }));
}

await main();
