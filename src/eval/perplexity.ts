// Rolling-window perplexity with lm-evaluation-harness semantics (METHOD.md, Evaluation):
// get_rolling_token_windows(tokens, prefix, max_len=C, context_len=1) followed by
// make_disjoint_window, so every token is scored exactly once and every window after the
// first sees a full C-token context. Metrics as the harness's wikitext task reports them.
import { noGrad } from '../tensor/autograd.js';
import { withBufferScope } from '../tensor/pool.js';
import { crossEntropy } from '../tensor/ops/loss.js';
import type { CausalLM } from '../models/causal_lm.js';

export interface Window {
  /** Model input: C tokens (fewer only when the document is shorter than C). */
  input: number[];
  /** How many of the last input positions are scored (their targets follow). */
  scored: number;
  /** The scored target tokens (the last `scored` positions' next tokens). */
  targets: number[];
}

/**
 * The harness's windows over tokens with max length C. Window 1: input = [prefix] +
 * toks[0 : min(C, N) - 1], targets = toks[0 : min(C, N)]. Each later window predicts the
 * next min(N - done, C) tokens from the C tokens that end just before its last target.
 */
export function rollingWindows(tokens: number[], prefixToken: number, C: number): Window[] {
  if (!(Number.isInteger(C) && C >= 1)) throw new RangeError(`rollingWindows: context ${C} must be a positive integer`);
  const N = tokens.length;
  if (N === 0) return [];
  const windows: Window[] = [];
  const first = Math.min(C, N);
  windows.push({ input: [prefixToken, ...tokens.slice(0, first - 1)], scored: first, targets: tokens.slice(0, first) });
  let done = first;
  while (done < N) {
    const pred = Math.min(N - done, C);
    const end = done + pred;
    // make_disjoint_window: context = the C tokens before the last target, minus the
    // predicted ones that are also inputs; the model sees (context + targets)[:-1].
    windows.push({ input: tokens.slice(end - C - 1, end - 1), scored: pred, targets: tokens.slice(end - pred, end) });
    done = end;
  }
  return windows;
}

export interface PerplexityResult {
  tokens: number;
  words: number;
  bytes: number;
  nll_sum: number;
  token_perplexity: number;
  word_perplexity: number;
  byte_perplexity: number;
  bits_per_byte: number;
  windows: number;
  context: number;
}

/** Words as the harness counts them: len(re.split(r"\s+", doc)). */
export function countWords(doc: string): number {
  return doc.split(/\s+/).length;
}

export interface PerplexityOptions {
  /** Override the model's maximum context. */
  context?: number;
  /** Windows per forward pass (windows of equal length are batched). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Scores one document (the whole text) with the model. */
export function documentPerplexity(model: CausalLM, doc: string, tokens: number[], prefixToken: number, opts: PerplexityOptions = {}): PerplexityResult {
  const C = opts.context ?? model.maxContext;
  if (C > model.maxContext) throw new RangeError(`context ${C} exceeds the model's maximum of ${model.maxContext}`);
  const windows = rollingWindows(tokens, prefixToken, C);
  const batchSize = Math.max(1, opts.batchSize ?? 4);
  let nll = 0, scoredTotal = 0, processed = 0;
  const wasTraining = model.training;
  model.eval();
  try {
    // Group windows by input length, in order, so a batch is one (B, T) forward pass.
    for (let i = 0; i < windows.length;) {
      const T = windows[i].input.length;
      const batch: Window[] = [];
      while (i < windows.length && batch.length < batchSize && windows[i].input.length === T) batch.push(windows[i++]);
      const B = batch.length;
      const ids = new Int32Array(B * T);
      const targets = new Int32Array(B * T).fill(-1); // unscored positions are ignored
      batch.forEach((w, b) => {
        ids.set(w.input, b * T);
        targets.set(w.targets, b * T + (T - w.scored));
      });
      // One buffer scope per batch: its arrays are reused by the next batch (tensor/pool.ts).
      nll = withBufferScope(() => {
        const losses = noGrad(() => crossEntropy(model.forward(ids, B, T), targets, { reduction: 'none' }));
        let total = nll; // added in the same order as without the scope: results stay bit for bit
        for (let k = 0; k < B * T; k++) if (targets[k] >= 0) total += losses.data[k];
        return total;
      });
      for (const w of batch) scoredTotal += w.scored;
      processed += B;
      opts.onProgress?.(processed, windows.length);
    }
  } finally {
    model.train(wasTraining);
  }
  if (scoredTotal !== tokens.length) throw new Error(`internal: scored ${scoredTotal} of ${tokens.length} tokens`);
  const words = countWords(doc);
  const bytes = Buffer.byteLength(doc, 'utf8');
  return {
    tokens: tokens.length,
    words,
    bytes,
    nll_sum: nll,
    token_perplexity: Math.exp(nll / Math.max(1, tokens.length)),
    word_perplexity: Math.exp(nll / words),
    byte_perplexity: Math.exp(nll / bytes),
    bits_per_byte: nll / bytes / Math.LN2,
    windows: windows.length,
    context: C,
  };
}

/** Perplexity over several documents: each scored on its own, metrics over the sums. */
export function corpusPerplexity(model: CausalLM, docs: { text: string; tokens: number[] }[], prefixToken: number, opts: PerplexityOptions = {}): PerplexityResult {
  const parts = docs.map((d) => documentPerplexity(model, d.text, d.tokens, prefixToken, opts));
  const sum = (k: 'tokens' | 'words' | 'bytes' | 'nll_sum' | 'windows') => parts.reduce((a, p) => a + p[k], 0);
  const nll = sum('nll_sum'), tokens = sum('tokens'), words = sum('words'), bytes = sum('bytes');
  return {
    tokens, words, bytes, nll_sum: nll,
    token_perplexity: Math.exp(nll / Math.max(1, tokens)),
    word_perplexity: Math.exp(nll / words),
    byte_perplexity: Math.exp(nll / bytes),
    bits_per_byte: nll / bytes / Math.LN2,
    windows: sum('windows'),
    context: opts.context ?? model.maxContext,
  };
}
