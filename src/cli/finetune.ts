// `scaleot finetune --model DIR --task NAME --out DIR [--lrs 2e-5,5e-5,...] [--steps N]
//  [--batch N] [--eval-limit N] [--checkpoint-every N]`, or with your own files:
// `--train FILE --validation FILE --test FILE` instead of --task. Re-running the same
// command resumes: finished learning rates are skipped, an interrupted one continues.
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { finetune, PAPER_LR_GRID } from '../train/finetune.js';
import { loadTask, loadTaskFile, BUILTIN_TASKS } from '../data/tasks.js';
import { defaultDataDir, ensureData } from '../data/build.js';
import { parseArgs, required, intFlag, UsageError } from './args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function runFinetune(argv: string[]): void {
  const args = parseArgs('finetune', argv, {
    values: ['--model', '--task', '--out', '--lrs', '--steps', '--batch', '--eval-limit', '--checkpoint-every', '--data-dir', '--train', '--validation', '--test', '--seed'],
    switches: ['--json'],
  });
  const model = required(args, '--model', 'finetune');
  const out = required(args, '--out', 'finetune');
  const lrs = (args.values.get('--lrs') ?? PAPER_LR_GRID.join(',')).split(',').map((s) => {
    const v = Number(s);
    if (!(v > 0 && v < 1)) throw new UsageError(`finetune: learning rate "${s}" must be a number in (0, 1)`);
    return v;
  });
  const name = args.values.get('--task');
  let tasks;
  if (name) {
    if (!BUILTIN_TASKS.includes(name)) throw new UsageError(`finetune: unknown task "${name}" (built-in: ${BUILTIN_TASKS.join(', ')}; or give --train/--validation/--test files)`);
    const dataDir = args.values.get('--data-dir') ?? defaultDataDir(root);
    ensureData(dataDir, (s) => process.stderr.write(`data: ${s}\n`));
    tasks = { train: loadTask(name, 'train', dataDir), validation: loadTask(name, 'validation', dataDir), test: loadTask(name, 'test', dataDir) };
  } else {
    tasks = {
      train: loadTaskFile(required(args, '--train', 'finetune')),
      validation: loadTaskFile(required(args, '--validation', 'finetune')),
      test: loadTaskFile(required(args, '--test', 'finetune')),
    };
  }
  const r = finetune(model, tasks, out, {
    lrs,
    steps: intFlag(args, '--steps', 300),
    batchSize: intFlag(args, '--batch', 16),
    evalLimit: args.values.has('--eval-limit') ? intFlag(args, '--eval-limit', 0) : undefined,
    checkpointEvery: intFlag(args, '--checkpoint-every', 100),
    seed: intFlag(args, '--seed', 0, 0),
  });
  const summary = { best_lr: r.bestLr, metric: r.test.metric, zero_shot_test: r.zeroShot.test.details, test: r.test.details, validation: r.validation.value, runs: r.runs.map((x) => ({ lr: x.lr, validation: x.validation.value })), out };
  if (args.switches.has('--json')) console.log(JSON.stringify(summary));
  else {
    console.log(`best lr ${r.bestLr} (validation ${r.validation.metric} ${r.validation.value.toFixed(4)})`);
    console.log(`test ${r.test.metric}: zero-shot ${r.zeroShot.test.value.toFixed(4)} -> fine-tuned ${r.test.value.toFixed(4)}`);
  }
}
