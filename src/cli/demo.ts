// `scaleot demo`: until the offsite-tuning pipeline lands (data, models from checkpoints,
// ScaleOT, experiments), the demo exercises the compute core end to end: it trains a small
// byte-level GPT-2 on this repository's README for a few hundred AdamW steps with a cosine
// schedule and gradient clipping, reports the loss and throughput, and samples greedily.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2LMHeadModel } from '../models/gpt2.js';
import { AdamW } from '../optim/adamw.js';
import { cosineWithWarmup } from '../optim/schedule.js';
import { clipGradNorm } from '../optim/clip.js';
import { backward, noGrad } from '../tensor/autograd.js';
import { maxAlong } from '../tensor/ops/reduce.js';
import { Rng } from '../util/rng.js';

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
  for (let step = 0; step < opts.steps; step++) {
    const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      const start = rng.int(data.length - T - 1);
      ids.set(data.subarray(start, start + T), b * T);
      targets.set(data.subarray(start + 1, start + T + 1), b * T);
    }
    opt.lr = cosineWithWarmup(step, schedule);
    opt.zeroGrad();
    const loss = model.loss(ids, targets, B, T);
    backward(loss);
    clipGradNorm(model.parameters(), 1.0);
    opt.step();
    const l = loss.item();
    if (!Number.isFinite(l)) throw new Error(`demo: loss became ${l} at step ${step}`);
    if (step === 0) firstLoss = l;
    lastLoss = l;
    if (step % 25 === 0 || step === opts.steps - 1) {
      const sec = (performance.now() - t0) / 1000;
      log(`step ${String(step).padStart(4)}  loss ${l.toFixed(4)}  lr ${opt.lr.toExponential(2)}  ${(((step + 1) * B * T) / sec).toFixed(0)} tokens/s`);
    }
  }
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
