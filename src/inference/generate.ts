// Autoregressive decoding with a KV cache: greedy, or sampling with temperature, top-k and
// top-p (nucleus) filtering from a seeded generator.
import { noGrad } from '../tensor/autograd.js';
import type { CausalLM } from '../models/causal_lm.js';
import { Rng } from '../util/rng.js';

export interface GenerateOptions {
  maxNewTokens: number;
  /** Greedy when absent or 0. */
  temperature?: number;
  topK?: number; // 0 = no limit
  topP?: number; // 1 = no limit
  seed?: number;
  /** Stop after producing this id (included in the output). */
  eosTokenId?: number | null;
  /** false: recompute the whole sequence each step (for testing the cache). */
  useCache?: boolean;
}

/** Returns the new token ids (batch of one prompt). */
export function generate(model: CausalLM, prompt: number[], opts: GenerateOptions): number[] {
  if (prompt.length === 0) throw new RangeError('generate: the prompt is empty');
  if (prompt.length + opts.maxNewTokens > model.maxContext) {
    throw new RangeError(`generate: ${prompt.length} prompt + ${opts.maxNewTokens} new tokens exceed the model's context of ${model.maxContext}`);
  }
  const rng = new Rng(opts.seed ?? 0);
  const useCache = opts.useCache ?? true;
  const out: number[] = [];
  const wasTraining = model.training;
  model.eval();
  try {
    noGrad(() => {
      const cache = useCache ? model.newCache() : undefined;
      let pending = prompt;
      for (let step = 0; step < opts.maxNewTokens; step++) {
        const input = useCache ? pending : [...prompt, ...out];
        const logits = model.forward(Int32Array.from(input), 1, input.length, cache); // (1, T, V)
        const V = model.vocabSize;
        const last = logits.data.subarray((input.length - 1) * V, input.length * V);
        const next = pick(last, opts, rng);
        out.push(next);
        if (opts.eosTokenId != null && next === opts.eosTokenId) break;
        pending = [next];
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return out;
}

function pick(logits: Float32Array | Float64Array, opts: GenerateOptions, rng: Rng): number {
  const t = opts.temperature ?? 0;
  if (!(t > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }
  // Candidates sorted by logit, cut by top-k, then by cumulative probability (top-p).
  const idx = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const k = opts.topK && opts.topK > 0 ? Math.min(opts.topK, idx.length) : idx.length;
  const kept = idx.slice(0, k);
  const m = logits[kept[0]] / t;
  const w = kept.map((i) => Math.exp(logits[i] / t - m));
  const total = w.reduce((a, b) => a + b, 0);
  const topP = opts.topP ?? 1;
  let cum = 0, cut = kept.length;
  for (let j = 0; j < kept.length; j++) {
    cum += w[j] / total;
    if (cum >= topP) {
      cut = j + 1;
      break;
    }
  }
  const mass = w.slice(0, cut).reduce((a, b) => a + b, 0);
  let r = rng.uniform() * mass;
  for (let j = 0; j < cut; j++) {
    r -= w[j];
    if (r <= 0) return kept[j];
  }
  return kept[cut - 1];
}
