// `npm run bench`: our tensor core next to plain PyTorch on the same workloads, in one
// invocation, rounds interleaved (ours, theirs, ours, ...) because this machine's speed
// swings by up to 5x; medians and ranges are reported. Workloads:
//   1. sgemm GFLOP/s at 1024^3 and at GPT-2-small layer shapes (tokens = 1024);
//   2. forward+backward tokens/s of 2 GPT-2 blocks (d=768, 12 heads, MLP 3072, 4 x 256);
//   3. a full GPT-2-small training step (vocabulary 50257, AdamW) and forward-only tokens/s;
//   4. bf16 mixed precision: sgemm 1024^3 with bf16 operands (ours: VDPBF16PS or its
//      emulation; PyTorch: bf16 tensors through oneDNN) and the GPT-2-small step under
//      bf16 (ours: the precision switch; PyTorch: torch.autocast('cpu', bfloat16));
//   5. the base-model shape (24 blocks, d = 192, vocabulary 8192, 16 x 256), step in fp32
//      and bf16, where per-op overhead rather than GEMM dominates;
//   6. peak RSS of each process.
// PyTorch runs in /usr/bin/python3 (Debian's python3-torch) with its best configuration
// here: OPENBLAS_CORETYPE=SkylakeX, OMP_WAIT_POLICY=PASSIVE, the same thread count.
// Flags: --json (one JSON object on the last line), --rounds N (default 5), --quick
// (smaller full-model batch), --no-torch.
import { spawn, spawnSync, ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface, Interface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { native } from '../src/tensor/native.js';
import { Tensor, randn } from '../src/tensor/tensor.js';
import { backward, noGrad } from '../src/tensor/autograd.js';
import { withBufferScope } from '../src/tensor/pool.js';
import { sum } from '../src/tensor/ops/reduce.js';
import { GPT2Block, GPT2LMHeadModel } from '../src/models/gpt2.js';
import { AdamW } from '../src/optim/adamw.js';
import { Rng } from '../src/util/rng.js';
import { withMatmulPrecision, type MatmulPrecision } from '../src/tensor/ops/matmul.js';

const args = process.argv.slice(2);
const JSON_OUT = args.includes('--json');
const QUICK = args.includes('--quick');
const NO_TORCH = args.includes('--no-torch');
const roundsArg = args.indexOf('--rounds');
const ROUNDS = roundsArg >= 0 ? Number(args[roundsArg + 1]) : 5;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error('--rounds needs a positive integer');
const log = (s: string) => (JSON_OUT ? process.stderr.write(s + '\n') : console.log(s));

const THREADS = native.getNumThreads();
const here = dirname(fileURLToPath(import.meta.url));
const TORCH_SCRIPT = join(here, '..', '..', 'bench', 'torch_reference.py');

// ------------------------------------------------------------------ PyTorch worker
class TorchWorker {
  private lines: AsyncIterableIterator<string>;
  private constructor(private proc: ChildProcessWithoutNullStreams, rl: Interface) {
    this.lines = rl[Symbol.asyncIterator]();
  }

  static async start(): Promise<{ worker: TorchWorker; version: string } | { reason: string }> {
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import torch'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) return { reason: 'no torch in /usr/bin/python3 (apt-get install python3-torch)' };
    const proc = spawn('/usr/bin/python3', [TORCH_SCRIPT, String(THREADS)], {
      // glibc's allocator as our addon sets it (native/addon.cc: no fresh mappings below 32 MiB,
      // no trimming below 1 GiB free): without it PyTorch's float32 -> bf16 casts re-fault their
      // pages on every product (bf16 sgemm on float32 operands: 119-142 GFLOP/s, 619-640 with it).
      env: { ...process.env, OPENBLAS_CORETYPE: 'SkylakeX', OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: String(THREADS), MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(1 << 30) },
    });
    proc.stderr.on('data', (d) => process.stderr.write(`[torch] ${d}`));
    const w = new TorchWorker(proc, createInterface({ input: proc.stdout }));
    const hello = JSON.parse((await w.lines.next()).value ?? '{}');
    if (!hello.ready) return { reason: 'the PyTorch worker did not start' };
    return { worker: w, version: hello.torch };
  }

  async run(req: object): Promise<any> {
    this.proc.stdin.write(JSON.stringify(req) + '\n');
    const r = await this.lines.next();
    if (r.done) throw new Error('the PyTorch worker exited');
    const out = JSON.parse(r.value);
    if (out.error) throw new Error(`PyTorch worker: ${out.error}`);
    return out;
  }

  stop(): void {
    this.proc.stdin.end();
  }
}

// ------------------------------------------------------------------ our workloads
/**
 * Collects the previous workload's garbage before a timed window (npm run bench passes
 * --expose-gc): otherwise V8's collector threads free hundreds of MB on the same two cores
 * during the next measurement, which PyTorch's side (freed by reference counting as it
 * goes, in its own process) never pays inside a window.
 */
function settle(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function oursSgemm(M: number, N: number, K: number, reps: number, bf16 = false): number {
  const rng = new Rng(1);
  const A = new Float32Array(M * K).map(() => rng.uniform()), B = new Float32Array(K * N).map(() => rng.uniform());
  const C = new Float32Array(M * N);
  const run = () => (bf16 ? native.gemmBf16(0, 0, M, N, K, 1, A, K, B, N, 0, C, N, 1, 0, 0, 0, null) : native.gemm(0, 0, M, N, K, 1, A, K, B, N, 0, C, N, 1, 0, 0, 0));
  run();
  // At least `reps` products and at least 0.3 s: ten bf16 products of 1024^3 take ~35 ms,
  // short enough for the collection of the previous workload's garbage (V8's GC threads
  // share the two cores) to halve a sample (measured: 218-569 GFLOP/s over one bench run).
  let done = 0;
  const t0 = performance.now();
  while (done < reps || performance.now() - t0 < 300) {
    run();
    done++;
  }
  return (2 * M * N * K) / ((performance.now() - t0) / 1000 / done) / 1e9;
}

const blockCfg = { vocabSize: 1, nPositions: 1024, nEmbd: 768, nLayer: 2, nHead: 12, nInner: 3072, layerNormEpsilon: 1e-5,
  residDropout: 0, embdDropout: 0, attnDropout: 0, initializerRange: 0.02 };
let blocks: GPT2Block[] | null = null;

function oursBlock(B: number, T: number, reps: number): number {
  if (!blocks) {
    const rng = new Rng(0);
    blocks = [new GPT2Block(blockCfg, rng), new GPT2Block(blockCfg, rng)];
  }
  const x = randn([B, T, 768], new Rng(2));
  x.requiresGrad = true;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    let y: Tensor = x;
    withBufferScope(() => {
      for (const b of blocks!) y = b.forward(y);
      backward(sum(y));
    });
  }
  return (B * T) / ((performance.now() - t0) / 1000 / reps);
}

const MODELS = {
  small: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12 },
  base24: { vocabSize: 8192, nPositions: 256, nEmbd: 192, nLayer: 24, nHead: 4 },
};
const models = new Map<string, { m: GPT2LMHeadModel; opt: AdamW }>();

function oursModel(work: 'step' | 'forward', B: number, T: number, reps: number, which: keyof typeof MODELS = 'small', precision: MatmulPrecision = 'fp32'): number {
  return withMatmulPrecision(precision, () => oursModelRun(work, B, T, reps, which));
}

function oursModelRun(work: 'step' | 'forward', B: number, T: number, reps: number, which: keyof typeof MODELS): number {
  const modelCfg = MODELS[which];
  if (!models.has(which)) {
    const m = new GPT2LMHeadModel(modelCfg, 0);
    models.set(which, { m, opt: new AdamW(m.parameters(), { lr: 1e-4 }) });
  }
  const rng = new Rng(3);
  const ids = Int32Array.from({ length: B * T }, () => rng.int(modelCfg.vocabSize));
  const targets = Int32Array.from({ length: B * T }, () => rng.int(modelCfg.vocabSize));
  const { m, opt } = models.get(which)!;
  const t0 = performance.now();
  for (let r = 0; r < reps; r++) {
    // As the training loop and the scoring loops run them: one buffer scope per step or
    // batch (src/tensor/pool.ts), so arrays are reused from the previous repetition.
    if (work === 'step') {
      opt.zeroGrad();
      withBufferScope(() => backward(m.loss(ids, targets, B, T)));
      opt.step();
    } else {
      withBufferScope(() => {
        noGrad(() => m.forward(ids, B, T));
      });
    }
  }
  return (B * T) / ((performance.now() - t0) / 1000 / reps);
}

// ------------------------------------------------------------------ statistics
interface Stat {
  median: number;
  min: number;
  max: number;
  values: number[];
}

function stat(values: number[]): Stat {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], values };
}

const fmt = (s: Stat | null, digits = 1) =>
  s ? `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})` : 'n/a';

// ------------------------------------------------------------------ main
async function main(): Promise<void> {
  const started = await (NO_TORCH ? Promise.resolve({ reason: '--no-torch' }) : TorchWorker.start());
  const torch = 'worker' in started ? started.worker : null;
  log(`scaleot bench: kernels ${native.getKernels()}, ${THREADS} threads, ${ROUNDS} interleaved rounds; PyTorch: ${torch ? (started as { version: string }).version : 'absent (' + (started as { reason: string }).reason + ')'}`);

  const gemmShapes: [string, number, number, number][] = [
    ['1024^3', 1024, 1024, 1024],
    ['c_attn 1024x2304x768', 1024, 2304, 768],
    ['c_fc 1024x3072x768', 1024, 3072, 768],
    ['mlp c_proj 1024x768x3072', 1024, 768, 3072],
  ];
  const full = QUICK ? { B: 1, T: 256 } : { B: 2, T: 256 };
  const ours: Record<string, number[]> = {}, theirs: Record<string, number[]> = {};
  const push = (rec: Record<string, number[]>, k: string, v: number) => (rec[k] ??= []).push(v);

  // Round 0 warms both sides up (thread pools, page mappings, lazily built state) and is
  // not recorded.
  for (let round = 0; round <= ROUNDS; round++) {
    log(round === 0 ? 'warm-up round (not recorded)' : `round ${round}/${ROUNDS}`);
    const record = round > 0;
    for (const [name, M, N, K] of gemmShapes) {
      const reps = 10;
      settle();
      const o = oursSgemm(M, N, K, reps);
      if (record) push(ours, `sgemm ${name}`, o);
      if (torch) {
        const t = (await torch.run({ work: 'sgemm', M, N, K, reps })).gflops;
        if (record) push(theirs, `sgemm ${name}`, t);
      }
    }
    settle();
    const ob = oursBlock(4, 256, 2);
    if (record) push(ours, 'block', ob);
    if (torch) {
      const t = (await torch.run({ work: 'block', B: 4, T: 256, C: 768, H: 12, layers: 2, reps: 2 })).tokens_per_s;
      if (record) push(theirs, 'block', t);
    }
    const modelReq = { V: 50257, P: 1024, C: 768, L: 12, H: 12, B: full.B, T: full.T, reps: 1 };
    for (const work of ['step', 'forward'] as const) {
      settle();
      const o = oursModel(work, full.B, full.T, 1);
      if (record) push(ours, work, o);
      if (torch) {
        const t = (await torch.run({ ...modelReq, work })).tokens_per_s;
        if (record) push(theirs, work, t);
      }
    }
    // bf16: sgemm and the GPT-2-small step.
    settle();
    const ob16 = oursSgemm(1024, 1024, 1024, 10, true);
    if (record) push(ours, 'bf16 sgemm 1024^3', ob16);
    if (torch) {
      const t = (await torch.run({ work: 'sgemm_bf16', M: 1024, N: 1024, K: 1024, reps: 10 })).gflops;
      if (record) push(theirs, 'bf16 sgemm 1024^3', t);
      // The same product on equal work: float32 operands rounded to bf16 for each product, as
      // ours always does while packing and as autocast does to a matmul of float32 tensors
      // (PyTorch 1.13 casts with separate, unfused kernels). Our side is the row above.
      const tc = (await torch.run({ work: 'sgemm_bf16_cast', M: 1024, N: 1024, K: 1024, reps: 10 })).gflops;
      if (record) push(theirs, 'bf16 sgemm 1024^3, fp32 operands', tc);
      if (record) push(ours, 'bf16 sgemm 1024^3, fp32 operands', ob16);
    }
    for (const work of ['step', 'forward'] as const) {
      settle();
      const o = oursModel(work, full.B, full.T, 1, 'small', 'bf16');
      if (record) push(ours, `bf16 ${work}`, o);
      if (torch) {
        const t = (await torch.run({ ...modelReq, work, bf16: true })).tokens_per_s;
        if (record) push(theirs, `bf16 ${work}`, t);
      }
    }
    // The base-model shape: small d, many blocks.
    const baseReq = { V: 8192, P: 256, C: 192, L: 24, H: 4, B: QUICK ? 8 : 16, T: 256, reps: 1 };
    for (const precision of ['fp32', 'bf16'] as const) {
      const key = `base-24 ${precision} step`;
      settle();
      const o = oursModel('step', baseReq.B, baseReq.T, 1, 'base24', precision);
      if (record) push(ours, key, o);
      if (torch) {
        const t = (await torch.run({ ...baseReq, work: 'step', bf16: precision === 'bf16' })).tokens_per_s;
        if (record) push(theirs, key, t);
      }
    }
  }

  const ourRss = process.resourceUsage().maxRSS / 1024;
  const torchRss = torch ? (await torch.run({ work: 'rss' })).peak_rss_mb : null;
  torch?.stop();

  const rows: [string, string, Stat, Stat | null][] = [];
  for (const key of Object.keys(ours)) {
    const unit = key.includes('sgemm') ? 'GFLOP/s' : 'tokens/s';
    rows.push([key, unit, stat(ours[key]), theirs[key] ? stat(theirs[key]) : null]);
  }
  log('');
  log(`${'workload'.padEnd(34)} ${'unit'.padEnd(9)} ${'scaleot median (range)'.padEnd(28)} ${'PyTorch median (range)'.padEnd(28)} ratio`);
  for (const [key, unit, o, t] of rows) {
    const label = key === 'block' ? '2 GPT-2 blocks fwd+bwd 4x256' : key === 'step' ? `GPT-2-small train step ${full.B}x${full.T}` : key === 'forward' ? `GPT-2-small forward ${full.B}x${full.T}`
      : key === 'bf16 step' ? `GPT-2-small bf16 step ${full.B}x${full.T}` : key === 'bf16 forward' ? `GPT-2-small bf16 forward ${full.B}x${full.T}` : key;
    log(`${label.padEnd(34)} ${unit.padEnd(9)} ${fmt(o).padEnd(28)} ${fmt(t).padEnd(28)} ${t ? (o.median / t.median).toFixed(2) + 'x' : ''}`);
  }
  log(`peak RSS: scaleot ${ourRss.toFixed(0)} MiB, PyTorch ${torchRss ? torchRss.toFixed(0) + ' MiB' : 'n/a'} (each process over all workloads)`);
  // Issue 12's targets compare each side at its best precision (fp32 or bf16).
  const best = (r: Record<string, number[]>, keys: string[]) => Math.max(...keys.map((k) => (r[k] ? stat(r[k]).median : 0)));
  const bestRatio = (keys: string[]) => (torch ? best(ours, keys) / best(theirs, keys) : null);
  const targets = {
    step_best_ratio: bestRatio(['step', 'bf16 step']),
    forward_best_ratio: bestRatio(['forward', 'bf16 forward']),
    base24_step_best_ratio: bestRatio(['base-24 fp32 step', 'base-24 bf16 step']),
  };
  if (torch) {
    log(`best precision vs best precision: GPT-2-small step ${targets.step_best_ratio!.toFixed(2)}x (target 1.5x), forward ${targets.forward_best_ratio!.toFixed(2)}x (target 1.1x), base-24 step ${targets.base24_step_best_ratio!.toFixed(2)}x (target 1.5x)`);
  }

  if (JSON_OUT) {
    const med = (r: Record<string, number[]>, k: string) => (r[k] ? stat(r[k]).median : null);
    const ratio = (k: string) => (theirs[k] ? stat(ours[k]).median / stat(theirs[k]).median : null);
    const result = {
      kernels: native.getKernels(),
      threads: THREADS,
      rounds: ROUNDS,
      full_model_batch: full,
      sgemm_gflops: med(ours, 'sgemm 1024^3'),
      torch_sgemm_gflops: med(theirs, 'sgemm 1024^3'),
      sgemm_ratio: ratio('sgemm 1024^3'),
      block_tokens_per_s: med(ours, 'block'),
      torch_block_tokens_per_s: med(theirs, 'block'),
      block_ratio: ratio('block'),
      step_tokens_per_s: med(ours, 'step'),
      torch_step_tokens_per_s: med(theirs, 'step'),
      step_ratio: ratio('step'),
      forward_tokens_per_s: med(ours, 'forward'),
      torch_forward_tokens_per_s: med(theirs, 'forward'),
      forward_ratio: ratio('forward'),
      bf16_sgemm_gflops: med(ours, 'bf16 sgemm 1024^3'),
      torch_bf16_sgemm_gflops: med(theirs, 'bf16 sgemm 1024^3'),
      bf16_sgemm_ratio: ratio('bf16 sgemm 1024^3'),
      torch_bf16_sgemm_cast_gflops: med(theirs, 'bf16 sgemm 1024^3, fp32 operands'),
      bf16_sgemm_cast_ratio: ratio('bf16 sgemm 1024^3, fp32 operands'),
      bf16_path: native.bf16Path(),
      bf16_step_tokens_per_s: med(ours, 'bf16 step'),
      torch_autocast_step_tokens_per_s: med(theirs, 'bf16 step'),
      bf16_step_ratio: ratio('bf16 step'),
      bf16_forward_tokens_per_s: med(ours, 'bf16 forward'),
      torch_autocast_forward_tokens_per_s: med(theirs, 'bf16 forward'),
      bf16_forward_ratio: ratio('bf16 forward'),
      ...targets,
      base24_fp32_step_tokens_per_s: med(ours, 'base-24 fp32 step'),
      torch_base24_fp32_step_tokens_per_s: med(theirs, 'base-24 fp32 step'),
      base24_bf16_step_tokens_per_s: med(ours, 'base-24 bf16 step'),
      torch_base24_autocast_step_tokens_per_s: med(theirs, 'base-24 bf16 step'),
      peak_rss_mb: ourRss,
      torch_peak_rss_mb: torchRss,
      details: Object.fromEntries(rows.map(([k, , o, t]) => [k, { ours: o, torch: t }])),
    };
    console.log(JSON.stringify(result));
  }
}

main().catch((e) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
