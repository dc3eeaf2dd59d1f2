// Peak resident memory of loading and scoring a large checkpoint with float32 weights and
// with weights held in bf16 (`--weights bf16`). The checkpoint is synthetic (random weights
// of a GPT-2-architecture model, 1.3B parameters by default: 24 blocks, d = 2048, the shape
// of GPT-3 XL / OPT-1.3B), written once in F16 to a scratch directory (2.6 GB, never
// committed) tensor by tensor, so writing it needs no more memory than its largest matrix.
// Each precision is measured in a fresh child process (peak RSS is per process):
//   node dist/bench/weights_memory.js [--dir DIR] [--layers 24] [--d 2048] [--tokens 128] [--keep]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPT2LMHeadModel, gpt2ConfigFromHF } from '../src/models/gpt2.js';
import { loadModel } from '../src/models/load.js';
import { writeSafetensorsStreamed } from '../src/io/safetensors.js';
import { noGrad } from '../src/tensor/autograd.js';

const VOCAB = 50257;

function flag(name: string, dflt: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}

/** Deterministic small random values (xorshift32), std about `scale`. */
function randomValues(n: number, seed: number, scale: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  const k = (scale * Math.sqrt(12)) / 4294967296;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = (s - 2147483648) * k;
  }
  return out;
}

function writeSynthetic(dir: string, layers: number, d: number): void {
  const config = {
    model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: VOCAB, n_positions: 2048, n_embd: d,
    n_layer: layers, n_head: d / 128, activation_function: 'gelu_new', tie_word_embeddings: true,
  };
  // Names and shapes from the model itself (its float32 arrays are allocated but never
  // touched, so they cost address space, not memory).
  const shell = new GPT2LMHeadModel(gpt2ConfigFromHF(config), 0, { init: false });
  mkdirSync(dir, { recursive: true });
  let seed = 1;
  writeSafetensorsStreamed(join(dir, 'model.safetensors'), shell.namedParameters().map(([name, p]) => {
    const mySeed = seed++;
    const isNormWeight = /\.ln_[12f]?\.weight$|ln_f\.weight$/.test(name);
    return {
      name, dtype: 'F16' as const, shape: p.shape,
      values: () => (p.ndim === 2 ? randomValues(p.size, mySeed, 0.02) : new Float32Array(p.size).fill(isNormWeight ? 1 : 0)),
    };
  }), { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

/** In the child: load, score `tokens` tokens once, report. */
function measure(dir: string, weights: 'fp32' | 'bf16', tokens: number): void {
  const t0 = performance.now();
  const model = loadModel(dir, { weights });
  const loaded = performance.now();
  const rssLoaded = process.memoryUsage().rss;
  const ids = Int32Array.from({ length: tokens }, (_, i) => (i * 7919 + 13) % VOCAB);
  const targets = Int32Array.from({ length: tokens }, (_, i) => (i * 104729 + 7) % VOCAB);
  const loss = noGrad(() => model.loss(ids, targets, 1, tokens)).item();
  const scored = performance.now();
  let parameters = 0;
  for (const [, p] of model.namedParameters()) parameters += p.size;
  console.log(JSON.stringify({
    weights, parameters, loss, load_s: (loaded - t0) / 1000, score_s: (scored - loaded) / 1000,
    rss_after_load_mib: rssLoaded / 2 ** 20, peak_rss_mib: process.resourceUsage().maxRSS / 1024,
  }));
}

function main(): void {
  if (process.argv[2] === '--child') {
    measure(process.argv[3], process.argv[4] as 'fp32' | 'bf16', Number(process.argv[5]));
    return;
  }
  const layers = Number(flag('--layers', '24')), d = Number(flag('--d', '2048')), tokens = Number(flag('--tokens', '128'));
  const dir = flag('--dir', join(tmpdir(), `scaleot-synthetic-gpt2-${layers}x${d}`));
  if (!existsSync(join(dir, 'config.json'))) {
    process.stderr.write(`writing a synthetic ${layers}-block d=${d} checkpoint (F16) to ${dir} ...\n`);
    writeSynthetic(dir, layers, d);
  }
  const rows: Record<string, number | string>[] = [];
  for (const weights of ['fp32', 'bf16'] as const) {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dir, weights, String(tokens)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`the ${weights} child failed: ${r.stderr}`);
    rows.push(JSON.parse(r.stdout.trim().split('\n').pop()!));
  }
  const [f, b] = rows as Record<string, number>[];
  console.log(`synthetic GPT-2 ${layers} x ${d}, ${(f.parameters / 1e9).toFixed(2)}B parameters, scoring ${tokens} tokens`);
  console.log('| weights | peak RSS (MiB) | RSS after load (MiB) | load (s) | score (s) | loss |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows as Record<string, number>[]) {
    console.log(`| ${r.weights} | ${r.peak_rss_mib.toFixed(0)} | ${r.rss_after_load_mib.toFixed(0)} | ${r.load_s.toFixed(1)} | ${r.score_s.toFixed(1)} | ${r.loss.toFixed(4)} |`);
  }
  console.log(`bf16 / fp32 peak RSS: ${(b.peak_rss_mib / f.peak_rss_mib).toFixed(3)}`);
  console.log(JSON.stringify({ layers, d, tokens, rows }));
  if (!process.argv.includes('--keep')) rmSync(dir, { recursive: true, force: true });
}

main();
