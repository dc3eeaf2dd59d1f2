// `scaleot demo`: the reduced experiment on the shipped base model (configs/experiment-
// demo.json, what `npm run demo` runs). `scaleot demo --core` exercises the compute core
// alone: it trains a small byte-level GPT-2 on this repository's README for a few hundred
// AdamW steps through the shared training loop, reports loss and throughput, and samples
// greedily.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../models/gpt2.js';
import { AdamW } from '../optim/adamw.js';
import { cosineWithWarmup } from '../optim/schedule.js';
import { noGrad } from '../tensor/autograd.js';
import { maxAlong } from '../tensor/ops/reduce.js';
import { Rng } from '../util/rng.js';
import { trainLoop } from '../train/loop.js';
import { randomWindows } from '../data/streams.js';
import { FlagSpec, parseArgs, intFlag } from './args.js';
import { root } from './common.js';
import { runExperimentCommand } from './experiment.js';

export const DEMO_FLAGS: FlagSpec = {
  summary: 'The reduced experiment on the shipped base model (ScaleOT, ScaleOT w/o SRC, OT, CRaSh on SOTU and WordNet definitions; ≤ 15 min on 2 cores); writes runs/experiments/demo/report.html.',
  values: ['--steps'],
  switches: ['--core'],
  help: { '--core': 'instead: train a small byte-level GPT-2 with the native core', '--steps': 'training steps of --core (default 1000)' },
};

export function runDemoCommand(argv: string[]): void {
  const args = parseArgs('demo', argv, DEMO_FLAGS);
  if (args.switches.has('--core')) runDemo({ steps: intFlag(args, '--steps', 1000), root });
  // The demo is the reduced experiment; a rerun reuses (and an interrupted one resumes) its stages.
  else runExperimentCommand(['--config', join(root, 'configs', 'experiment-demo.json'), '--resume']);
}

export interface DemoOptions {
  steps: number;
  root: string;
}

export function runDemo(opts: DemoOptions, log: (s: string) => void = console.log): { firstLoss: number; lastLoss: number } {
  const text = readFileSync(join(opts.root, 'README.md'));
  const data = Int32Array.from(text); // bytes as token ids (vocabulary 256)
  const B = 8, T = 64;
  if (data.length < 4 * T) throw new Error(`demo: ${join(opts.root, 'README.md')} has ${data.length} bytes; need at least ${4 * T}`);
  const model = new GPT2LMHeadModel({ vocabSize: 256, nPositions: T, nEmbd: 96, nLayer: 4, nHead: 4 }, 0);
  const decay = model.parameters().filter((p) => p.ndim >= 2);
  const noDecay = model.parameters().filter((p) => p.ndim < 2);
  const opt = new AdamW([{ params: decay }, { params: noDecay, weightDecay: 0 }], { lr: 3e-3, weightDecay: 0.1 });
  const schedule = { maxLr: 3e-3, warmupSteps: 20, totalSteps: opts.steps, minLr: 3e-4 };
  const rng = new Rng(1);
  log(`demo: byte-level GPT-2 (${model.numParameters().toLocaleString()} parameters) on README.md (${data.length} bytes), ${opts.steps} steps of ${B}x${T} tokens`);
  let firstLoss = NaN, lastLoss = NaN;
  const t0 = performance.now();
  // One stream of windows for the whole run (not the loop's per-step streams): this demo
  // cannot be resumed, and its numbers stay those it has always printed.
  trainLoop({ steps: opts.steps, seed: 0, schedule: (step) => cosineWithWarmup(step, schedule) }, {
    optimizer: opt, params: model.parameters(), stateModule: model,
    forward: () => {
      const { ids, targets } = randomWindows(data, B, T, rng);
      return model.loss(ids, targets, B, T);
    },
    afterStep: ({ step, loss, lr }) => {
      const l = loss!;
      if (!Number.isFinite(l)) throw new Error(`demo: loss became ${l} at step ${step - 1}`);
      if (step === 1) firstLoss = l;
      lastLoss = l;
      if ((step - 1) % 25 === 0 || step === opts.steps) {
        const sec = (performance.now() - t0) / 1000;
        log(`step ${String(step - 1).padStart(4)}  loss ${l.toFixed(4)}  lr ${lr.toExponential(2)}  ${((step * B * T) / sec).toFixed(0)} tokens/s`);
      }
    },
  });
  // Greedy continuation of a prompt from the training text.
  const prompt = Array.from(data.subarray(0, 16));
  const out = [...prompt];
  noGrad(() => {
    model.eval();
    for (let i = 0; i < 48; i++) {
      const ctx = Int32Array.from(out.slice(-T));
      const logits = model.forward(ctx, 1, ctx.length); // (1, t, 256)
      const { indices } = maxAlong(logits, -1);
      out.push(indices[ctx.length - 1]);
    }
  });
  log(`sample: ${JSON.stringify(Buffer.from(out.map((v) => v & 255)).toString('latin1'))}`);
  log(`loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}`);
  return { firstLoss, lastLoss };
}
