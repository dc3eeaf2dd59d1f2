// What the commands share: the package root, stderr logging (the library itself prints
// nothing), task loading from built-in names or files, and learning-rate grids.
import { loadTask, loadTaskFile, BUILTIN_TASKS, Task } from '../data/tasks.js';
import { defaultDataDir, ensureData, type BuiltData } from '../data/build.js';
import { PAPER_LR_GRID } from '../train/finetune.js';
import { packageRoot } from '../util/root.js';
import { ParsedArgs, UsageError, required, choiceFlag } from './args.js';
import { nativeBf16Default, withTrainingPrecision } from '../tensor/ops/matmul.js';
import { writeLogLine } from './progress.js';

export const root = packageRoot();

/** A logger that writes lines to stderr (stdout stays clean for --json), above any progress line. */
export function stderrLog(prefix = ''): (s: string) => void {
  return (s) => writeLogLine(`${prefix}${s}`);
}

/** The built datasets (directory and manifest), built or verified first. */
export function builtData(args: ParsedArgs): BuiltData {
  return ensureData(args.values.get('--data-dir') ?? defaultDataDir(root), stderrLog('data: '));
}

/** The built datasets' directory, built or verified first. */
export function dataDir(args: ParsedArgs): string {
  return builtData(args).dir;
}

/** A task's three splits: a built-in --task, or --train/--validation/--test files. */
export function tasksFrom(args: ParsedArgs, command: string): { train: Task; validation: Task; test: Task } {
  const name = args.values.get('--task');
  if (name) {
    if (!BUILTIN_TASKS.includes(name)) throw new UsageError(`${command}: unknown task "${name}" (built-in: ${BUILTIN_TASKS.join(', ')}; or give --train/--validation/--test files)`);
    const dir = dataDir(args);
    return { train: loadTask(name, 'train', dir), validation: loadTask(name, 'validation', dir), test: loadTask(name, 'test', dir) };
  }
  return {
    train: loadTaskFile(required(args, '--train', command)),
    validation: loadTaskFile(required(args, '--validation', command)),
    test: loadTaskFile(required(args, '--test', command)),
  };
}

/** A comma-separated learning-rate grid (the paper's by default). */
export function parseLrs(s: string | undefined, command: string): number[] {
  return (s ?? PAPER_LR_GRID.join(',')).split(',').map((x) => {
    const v = Number(x);
    if (!(v > 0 && v < 1)) throw new UsageError(`${command}: learning rate "${x}" must be a number in (0, 1)`);
    return v;
  });
}

/** --help lines shared by the commands that train on a task. */
export const TASK_HELP: Record<string, string> = {
  '--task': `a built-in task (${BUILTIN_TASKS.join(', ')})`,
  '--train': 'training split file (instead of --task): {"context","choices","label"} or {"text"} per line, or .txt',
  '--validation': 'validation split file (selection is made on it)',
  '--test': 'test split file (scored once, at the end)',
  '--data-dir': 'where the built datasets live (default .cache/data/<version>, or SCALEOT_DATA_DIR)',
  '--lrs': `learning-rate grid, comma-separated (default the paper's ${PAPER_LR_GRID.join(',')})`,
  '--seed': 'seed of batches and initialisation (default 0)',
  '--json': 'print the result as one JSON object',
};

/** `--precision` of the training commands (finetune, tune, importance). */
export const PRECISION_HELP = 'matrix products of the training steps: fp32, bf16 (mixed precision: bf16 operands, float32 sums, weights and optimizer) or auto (bf16 where the CPU has AVX512-BF16, else fp32; default unless SCALEOT_PRECISION says otherwise); scoring stays fp32';

/** Runs a training command's work with `--precision` applied to its training loops (absent: the default). */
export function withPrecisionFlag<T>(args: ParsedArgs, fn: () => T): T {
  if (!args.values.has('--precision')) return fn();
  const p = choiceFlag(args, '--precision', ['fp32', 'bf16', 'auto'] as const, 'auto');
  return withTrainingPrecision(p === 'auto' ? nativeBf16Default() : p, fn);
}

/** `--weights` of the inference commands (eval, generate). */
export const WEIGHTS_CHOICES = ['fp32', 'bf16', 'auto'] as const;
export const WEIGHTS_HELP = 'how to hold the weights: fp32, bf16 (every matrix as bfloat16: half the memory, products in bf16 with float32 sums) or auto (bf16 for a checkpoint stored all in BF16, else fp32; default)';
