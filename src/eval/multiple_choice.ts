// Multiple-choice scoring with lm-evaluation-harness semantics: each choice is the
// continuation " " + choice after the context; its log-likelihood is the sum over the
// continuation tokens, where those are the tokens of encode(context + continuation) past
// encode(context) (the harness's _encode_pair, trailing spaces of the context moved into
// the continuation). acc takes the argmax of the sums; acc_norm divides each sum by the
// choice's length in characters (without the leading space). Standard errors are the
// sample standard deviation over items divided by sqrt(n), as the harness reports them.
import { noGrad } from '../tensor/autograd.js';
import { withBufferScope } from '../tensor/pool.js';
import { crossEntropy } from '../tensor/ops/loss.js';
import type { CausalLM } from '../models/causal_lm.js';

export interface Encoder {
  encode(text: string): number[];
  /** Scored first when the context is empty (BOS, or EOS where there is none). */
  readonly prefixTokenId: number;
}

export interface MultipleChoiceItem {
  context: string;
  choices: string[];
  label: number;
}

export interface MultipleChoiceResult {
  n: number;
  acc: number;
  acc_stderr: number;
  acc_norm: number;
  acc_norm_stderr: number;
}

/** Context and continuation tokens for one request, as the harness builds them. */
export function encodePair(tok: Encoder, context: string, continuation: string): { context: number[]; continuation: number[] } {
  const trimmed = context.replace(/\s+$/, '');
  const spaces = context.slice(trimmed.length);
  const cont = spaces + continuation;
  if (trimmed === '') return { context: [tok.prefixTokenId], continuation: tok.encode(cont) };
  const whole = tok.encode(trimmed + cont);
  const ctx = tok.encode(trimmed);
  return { context: ctx, continuation: whole.slice(ctx.length) };
}

/** Sample mean and its standard error (ddof = 1), as the harness's mean_stderr. */
export function meanStderr(xs: number[]): { mean: number; stderr: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / Math.max(1, n);
  if (n < 2) return { mean, stderr: NaN };
  const v = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(v / n) };
}

export interface MultipleChoiceOptions {
  /** Sequences per forward pass (right-padded; a causal model never sees the padding). */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Log-likelihood of every (context, " " + choice) request, in item/choice order. */
export function choiceLogLikelihoods(model: CausalLM, tok: Encoder, items: MultipleChoiceItem[], opts: MultipleChoiceOptions = {}): number[][] {
  const C = model.maxContext;
  // Typed arrays: thousands of requests stay alive through every forward pass of the
  // scoring, and V8's frequent full collections would mark them all as number[].
  type Req = { item: number; choice: number; input: Int32Array; targets: Int32Array };
  const reqs: Req[] = [];
  items.forEach((it, i) =>
    it.choices.forEach((ch, j) => {
      const { context, continuation } = encodePair(tok, it.context, ' ' + ch);
      if (continuation.length === 0) throw new Error(`item ${i}: choice ${j} encodes to no tokens`);
      // The harness keeps the last C + 1 tokens and feeds all but the last.
      const seq = [...context, ...continuation].slice(-(C + 1));
      reqs.push({ item: i, choice: j, input: Int32Array.from(seq.slice(0, -1)), targets: Int32Array.from(continuation.slice(-Math.min(continuation.length, seq.length - 1))) });
    }),
  );
  const out = items.map((it) => new Array<number>(it.choices.length).fill(0));
  const batchSize = Math.max(1, opts.batchSize ?? 8);
  const wasTraining = model.training;
  model.eval();
  try {
    for (let r0 = 0; r0 < reqs.length; r0 += batchSize) {
      const batch = reqs.slice(r0, r0 + batchSize);
      const T = Math.max(...batch.map((r) => r.input.length));
      const B = batch.length;
      const ids = new Int32Array(B * T); // right padding with id 0
      const targets = new Int32Array(B * T).fill(-1);
      batch.forEach((r, b) => {
        ids.set(r.input, b * T);
        targets.set(r.targets, b * T + r.input.length - r.targets.length);
      });
      // One buffer scope per batch: its arrays are reused by the next batch (tensor/pool.ts).
      withBufferScope(() => {
        const nll = noGrad(() => crossEntropy(model.forward(ids, B, T), targets, { reduction: 'none' }));
        batch.forEach((r, b) => {
          let s = 0;
          for (let t = 0; t < T; t++) if (targets[b * T + t] >= 0) s -= nll.data[b * T + t];
          out[r.item][r.choice] = s;
        });
      });
      opts.onProgress?.(Math.min(reqs.length, r0 + batchSize), reqs.length);
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}

function argmax(xs: number[]): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

export function evaluateMultipleChoice(model: CausalLM, tok: Encoder, items: MultipleChoiceItem[], opts: MultipleChoiceOptions = {}): MultipleChoiceResult {
  const ll = choiceLogLikelihoods(model, tok, items, opts);
  return scoreMultipleChoice(items, ll);
}

/** acc and acc_norm with standard errors from per-choice log-likelihoods. */
export function scoreMultipleChoice(items: MultipleChoiceItem[], ll: number[][]): MultipleChoiceResult {
  const acc = items.map((it, i) => (argmax(ll[i]) === it.label ? 1 : 0));
  const accNorm = items.map((it, i) => (argmax(ll[i].map((v, j) => v / it.choices[j].length)) === it.label ? 1 : 0));
  const a = meanStderr(acc), an = meanStderr(accNorm);
  return { n: items.length, acc: a.mean, acc_stderr: a.stderr, acc_norm: an.mean, acc_norm_stderr: an.stderr };
}
