// `scaleot eval --model DIR --ppl FILE [--json] [--batch N] [--context N]`: rolling-window
// perplexity of one document with lm-evaluation-harness semantics.
import { readFileSync } from 'node:fs';
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { documentPerplexity } from '../eval/perplexity.js';
import { progressBar } from '../util/progress.js';
import { parseArgs, required, intFlag, UsageError } from './args.js';

export function runEval(argv: string[]): void {
  const args = parseArgs('eval', argv, { values: ['--model', '--ppl', '--batch', '--context'], switches: ['--json'] });
  const dir = required(args, '--model', 'eval');
  const file = args.values.get('--ppl');
  if (!file) throw new UsageError('eval: --ppl FILE is required (multiple-choice tasks come with the data issue)');
  let doc: string;
  try {
    doc = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`eval: cannot read ${file} (${(e as Error).message})`);
  }
  if (doc.length === 0) throw new UsageError(`eval: ${file} is empty`);
  const tokenizer = TextTokenizer.fromDir(dir);
  const model = loadModel(dir);
  const tokens = tokenizer.encode(doc);
  const context = args.values.has('--context') ? intFlag(args, '--context', model.maxContext) : model.maxContext;
  const result = documentPerplexity(model, doc, tokens, tokenizer.prefixTokenId, {
    context,
    batchSize: intFlag(args, '--batch', 4),
    onProgress: progressBar(`eval ${file}`),
  });
  const out = { model: dir, file, architecture: model.architecture, ...result };
  if (args.switches.has('--json')) {
    console.log(JSON.stringify(out));
  } else {
    console.log(`${file}: ${result.tokens} tokens, ${result.words} words, ${result.bytes} bytes, ${result.windows} windows of ${context}`);
    console.log(`word_perplexity ${result.word_perplexity.toFixed(4)}  token_perplexity ${result.token_perplexity.toFixed(4)}  byte_perplexity ${result.byte_perplexity.toFixed(4)}  bits_per_byte ${result.bits_per_byte.toFixed(4)}`);
  }
}
