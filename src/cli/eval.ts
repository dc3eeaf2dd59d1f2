// `scaleot eval --model DIR (--task NAME_OR_FILE ... | --ppl FILE) [--split validation]
//  [--limit N] [--batch N] [--context N] [--weights fp32|bf16|auto] [--json]`: perplexity tasks with the harness's
// rolling windows, multiple-choice tasks with acc / acc_norm and their standard errors.
// The last stdout line (with --json) is one JSON object with every task's metrics.
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { corpusPerplexity } from '../eval/perplexity.js';
import { evaluateMultipleChoice } from '../eval/multiple_choice.js';
import { loadTask, loadTaskFile, BUILTIN_TASKS, Task } from '../data/tasks.js';
import { SPLITS } from '../data/build.js';
import { progressLine } from './progress.js';
import { FlagSpec, parseArgs, required, intFlag, choiceFlag, UsageError } from './args.js';
import { dataDir, WEIGHTS_CHOICES, WEIGHTS_HELP } from './common.js';

export const EVAL_FLAGS: FlagSpec = {
  summary: 'Score a model on built-in tasks or task files (harness semantics: rolling-window perplexity, multiple-choice acc / acc_norm with standard errors).',
  values: ['--model', '--ppl', '--batch', '--context', '--split', '--limit', '--data-dir', '--weights'],
  repeated: ['--task'],
  switches: ['--json'],
  help: {
    '--model': 'the model directory (required)',
    '--task': `a built-in task (${BUILTIN_TASKS.join(', ')}) or a task file`,
    '--ppl': 'score one document (.txt or {"text"} per line) by rolling-window perplexity',
    '--split': 'split of built-in tasks: validation, test or train (default validation: choices are made on validation; read test once, at the end)',
    '--limit': 'score only the first N items / documents (default all)',
    '--batch': 'sequences per forward pass (default the evaluator\'s)',
    '--context': 'window length in tokens (default the model\'s context)',
    '--data-dir': 'where the built datasets live',
    '--weights': WEIGHTS_HELP,
    '--json': 'print every metric as one JSON object',
  },
};

export function runEval(argv: string[]): void {
  const args = parseArgs('eval', argv, EVAL_FLAGS);
  const dir = required(args, '--model', 'eval');
  const names = args.repeated.get('--task') ?? [];
  const ppl = args.values.get('--ppl');
  if (names.length === 0 && !ppl) throw new UsageError(`eval: give --task NAME_OR_FILE (built-in: ${BUILTIN_TASKS.join(', ')}) or --ppl FILE`);
  const split = choiceFlag(args, '--split', SPLITS, 'validation');
  const limit = args.values.has('--limit') ? intFlag(args, '--limit', 0) : Infinity;

  const tasks: Task[] = [];
  if (ppl) tasks.push(loadTaskFile(ppl));
  if (names.some((n) => BUILTIN_TASKS.includes(n))) {
    const dir = dataDir(args);
    for (const n of names) tasks.push(loadTask(n, split, dir));
  } else for (const n of names) tasks.push(loadTask(n, split, ''));

  const tokenizer = TextTokenizer.fromDir(dir);
  const model = loadModel(dir, { weights: choiceFlag(args, '--weights', WEIGHTS_CHOICES, 'auto') });
  const context = args.values.has('--context') ? intFlag(args, '--context', model.maxContext) : model.maxContext;
  const batchSize = intFlag(args, '--batch', 8);
  const results: Record<string, unknown> = {};
  for (const task of tasks) {
    if (task.kind === 'lm') {
      const docs = task.documents.slice(0, limit).map((text) => ({ text, tokens: tokenizer.encode(text) }));
      const r = corpusPerplexity(model, docs, tokenizer.prefixTokenId, { context, batchSize, onProgress: onProgress(`eval ${task.name}`) });
      results[task.name] = { kind: 'perplexity', documents: docs.length, ...r };
    } else {
      const items = task.items.slice(0, limit);
      const r = evaluateMultipleChoice(model, tokenizer, items, { batchSize, onProgress: onProgress(`eval ${task.name}`) });
      const chance = items.reduce((a, it) => a + 1 / it.choices.length, 0) / items.length;
      results[task.name] = { kind: 'multiple_choice', chance, ...r };
    }
  }
  const out = { model: dir, architecture: model.architecture, split, tasks: results };
  if (args.switches.has('--json')) {
    console.log(JSON.stringify(out));
    return;
  }
  for (const [name, r] of Object.entries(results) as [string, Record<string, number | string>][]) {
    if (r.kind === 'perplexity') {
      console.log(`${name}: word_perplexity ${(r.word_perplexity as number).toFixed(3)}  token_perplexity ${(r.token_perplexity as number).toFixed(3)}  byte_perplexity ${(r.byte_perplexity as number).toFixed(4)}  bits_per_byte ${(r.bits_per_byte as number).toFixed(4)}  (${r.tokens} tokens)`);
    } else {
      const f = (k: string) => `${(100 * (r[k] as number)).toFixed(2)}`;
      console.log(`${name}: acc ${f('acc')} ± ${f('acc_stderr')}  acc_norm ${f('acc_norm')} ± ${f('acc_norm_stderr')}  (n=${r.n}, chance ${f('chance')})`);
    }
  }
}

/** The evaluators report (done, total); the CLI shows it as a progress line. */
function onProgress(label: string): (done: number, total: number) => void {
  const line = progressLine(label);
  return (done, total) => line({ done, total });
}
