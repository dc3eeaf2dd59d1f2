// `scaleot finetune --model DIR --task NAME --out DIR [--lrs 2e-5,5e-5,...] [--steps N]
//  [--batch N] [--eval-limit N] [--checkpoint-every N]`, or with your own files:
// `--train FILE --validation FILE --test FILE` instead of --task. Re-running the same
// command resumes: finished learning rates are skipped, an interrupted one continues.
import { finetune, DEFAULT_BUDGET } from '../train/finetune.js';
import { FlagSpec, parseArgs, required, intFlag } from './args.js';
import { PRECISION_HELP, TASK_HELP, parseLrs, stderrLog, tasksFrom, withPrecisionFlag } from './common.js';

export const FINETUNE_FLAGS: FlagSpec = {
  summary: 'Full fine-tuning (all blocks, trunk frozen) over a learning-rate grid; the best on validation is scored once on test. Resumable.',
  values: ['--model', '--task', '--out', '--lrs', '--steps', '--batch', '--eval-limit', '--checkpoint-every', '--data-dir', '--train', '--validation', '--test', '--seed', '--precision'],
  switches: ['--json'],
  help: {
    ...TASK_HELP,
    '--model': 'the model directory (Hugging Face checkpoint; required)',
    '--out': 'output directory: one run per lr, the best checkpoint, results.json (required)',
    '--steps': `training steps per learning rate (default ${DEFAULT_BUDGET.steps})`,
    '--batch': `examples per step (default ${DEFAULT_BUDGET.batchSize})`,
    '--eval-limit': 'score only the first N items / documents of validation and test (default all)',
    '--checkpoint-every': 'save the resumable state every N steps (default 100)',
    '--precision': PRECISION_HELP,
  },
};

export function runFinetune(argv: string[]): void {
  const args = parseArgs('finetune', argv, FINETUNE_FLAGS);
  const model = required(args, '--model', 'finetune');
  const out = required(args, '--out', 'finetune');
  const r = withPrecisionFlag(args, () => finetune(model, tasksFrom(args, 'finetune'), out, {
    lrs: parseLrs(args.values.get('--lrs'), 'finetune'),
    steps: intFlag(args, '--steps', DEFAULT_BUDGET.steps),
    batchSize: intFlag(args, '--batch', DEFAULT_BUDGET.batchSize),
    evalLimit: args.values.has('--eval-limit') ? intFlag(args, '--eval-limit', 0) : undefined,
    checkpointEvery: intFlag(args, '--checkpoint-every', 100),
    seed: intFlag(args, '--seed', 0, 0),
    log: stderrLog(),
  }));
  const summary = { best_lr: r.bestLr, metric: r.test.metric, zero_shot_test: r.zeroShot.test.details, test: r.test.details, validation: r.validation.value, runs: r.runs.map((x) => ({ lr: x.lr, validation: x.validation.value })), out };
  if (args.switches.has('--json')) console.log(JSON.stringify(summary));
  else {
    console.log(`best lr ${r.bestLr} (validation ${r.validation.metric} ${r.validation.value.toFixed(4)})`);
    console.log(`test ${r.test.metric}: zero-shot ${r.zeroShot.test.value.toFixed(4)} -> fine-tuned ${r.test.value.toFixed(4)}`);
  }
}
