// The offsite-tuning commands:
//   scaleot emulator --model DIR --importance DIR [--adapters N_a] [--alpha α] [--beta β]
//                    [--target attn|ffn|all] [--no-src] [--groups N_g] --out PKG
//   scaleot tune --emulator PKG (--task NAME | --train F --validation F --test F)
//                [--method M] [--lrs ...] [--steps N] [--batch N] --out DIR
//   scaleot plugin --model DIR --adapter ADAPTER --out DIR
import { DEFAULT_EMULATOR } from '../offsite/emulator.js';
import { createEmulator } from '../offsite/emulator_package.js';
import { offsiteTune } from '../offsite/tune.js';
import { plugIn } from '../offsite/plugin.js';
import { getTuner, tunerNames } from '../peft/registry.js';
import { DEFAULT_BUDGET } from '../train/finetune.js';
import { FlagSpec, parseArgs, required, intFlag, numberFlag, UsageError } from './args.js';
import { PRECISION_HELP, TASK_HELP, parseLrs, stderrLog, tasksFrom, withPrecisionFlag } from './common.js';

export const EMULATOR_FLAGS: FlagSpec = {
  summary: "Build ScaleOT's emulator package from a model and its importance results (the model owner's step 2).",
  values: ['--model', '--importance', '--adapters', '--alpha', '--beta', '--target', '--groups', '--out'],
  switches: ['--no-src', '--json'],
  help: {
    '--model': 'the model directory (required)',
    '--importance': 'the output directory of scaleot importance (required)',
    '--adapters': `N_a, adapter blocks (default ${DEFAULT_EMULATOR.numAdapters})`,
    '--alpha': `α, fraction of blocks replaced by harmonizers (default ${DEFAULT_EMULATOR.alpha})`,
    '--beta': `β, SRC strength: rank r = max(1, round((1 - β) min(rows, cols))) (default ${DEFAULT_EMULATOR.beta})`,
    '--target': `SRC targets: attn, ffn or all (default ${DEFAULT_EMULATOR.srcTarget})`,
    '--groups': `N_g, groups of adjacent blocks (default ${DEFAULT_EMULATOR.numGroups})`,
    '--no-src': 'ship the remaining blocks in full (ScaleOT without SRC)',
    '--out': 'the package directory to write (required)',
    '--json': 'print the manifest as JSON',
  },
};

export function runEmulator(argv: string[]): void {
  const args = parseArgs('emulator', argv, EMULATOR_FLAGS);
  const target = args.values.get('--target') ?? DEFAULT_EMULATOR.srcTarget;
  if (target !== 'attn' && target !== 'ffn' && target !== 'all') throw new UsageError('emulator: --target must be attn, ffn or all');
  const m = createEmulator(required(args, '--model', 'emulator'), required(args, '--importance', 'emulator'), {
    numAdapters: intFlag(args, '--adapters', DEFAULT_EMULATOR.numAdapters, 0),
    alpha: numberFlag(args, '--alpha', DEFAULT_EMULATOR.alpha, 0, 1),
    beta: numberFlag(args, '--beta', DEFAULT_EMULATOR.beta, 0, 1),
    srcTarget: target,
    noSrc: args.switches.has('--no-src'),
    numGroups: intFlag(args, '--groups', DEFAULT_EMULATOR.numGroups),
  }, required(args, '--out', 'emulator'), stderrLog());
  if (args.switches.has('--json')) console.log(JSON.stringify(m));
  else {
    const p = m.parameters;
    console.log(`emulator: adapters [${m.plan.adapters}], harmonized [${m.plan.harmonized}], SRC [${m.plan.compressed}]`);
    console.log(`size: ${p.emulator.toLocaleString()} of ${p.full_model.toLocaleString()} parameters (${(100 * p.relative_size).toFixed(1)}% of the full model)`);
    for (const s of m.statements) console.log(`- ${s}`);
  }
}

export const TUNE_FLAGS: FlagSpec = {
  summary: "Offsite tuning of an emulator's adapter blocks on a task (the data owner's step); writes the adapter package to return.",
  values: ['--emulator', '--task', '--train', '--validation', '--test', '--method', '--lrs', '--steps', '--batch', '--eval-limit', '--data-dir', '--out', '--seed', '--checkpoint-every', '--precision'],
  switches: ['--json'],
  help: {
    ...TASK_HELP,
    '--emulator': 'the emulator package (required)',
    '--method': `tuner: ${tunerNames().map((n) => `${n} (${getTuner(n).description})`).join('; ')} (default full)`,
    '--steps': `training steps per learning rate (default ${DEFAULT_BUDGET.steps})`,
    '--batch': `examples per step (default ${DEFAULT_BUDGET.batchSize})`,
    '--eval-limit': 'score only the first N items / documents (default all)',
    '--out': 'output directory; the adapter package is OUT/adapter (required)',
    '--checkpoint-every': 'save the resumable state every N steps (default 100)',
    '--precision': PRECISION_HELP,
  },
};

export function runTune(argv: string[]): void {
  const args = parseArgs('tune', argv, TUNE_FLAGS);
  const method = args.values.get('--method') ?? 'full';
  if (!tunerNames().includes(method)) throw new UsageError(`tune: --method must be one of ${tunerNames().join(', ')}`);
  const r = withPrecisionFlag(args, () => offsiteTune(required(args, '--emulator', 'tune'), tasksFrom(args, 'tune'), required(args, '--out', 'tune'), {
    method,
    lrs: parseLrs(args.values.get('--lrs'), 'tune'),
    steps: intFlag(args, '--steps', DEFAULT_BUDGET.steps),
    batchSize: intFlag(args, '--batch', DEFAULT_BUDGET.batchSize),
    evalLimit: args.values.has('--eval-limit') ? intFlag(args, '--eval-limit', 1) : undefined,
    checkpointEvery: intFlag(args, '--checkpoint-every', 100),
    seed: intFlag(args, '--seed', 0, 0),
    log: stderrLog(),
  }));
  if (args.switches.has('--json')) console.log(JSON.stringify(r));
  else {
    console.log(`best lr ${r.bestLr}; Emu ZS test ${r.emuZeroShot.test.metric} ${r.emuZeroShot.test.value.toFixed(4)} -> Emu FT ${r.emuFinetuned.test.value.toFixed(4)}`);
    console.log(`adapter package: ${r.adapterDir}`);
  }
}

export const PLUGIN_FLAGS: FlagSpec = {
  summary: 'Validate an adapter package against the model and write the plugged-in model as a normal checkpoint.',
  values: ['--model', '--adapter', '--out'],
  help: { '--model': 'the full model directory (required)', '--adapter': 'the adapter package from scaleot tune (required)', '--out': 'the checkpoint directory to write (required)' },
};

export function runPlugin(argv: string[]): void {
  const args = parseArgs('plugin', argv, PLUGIN_FLAGS);
  const out = required(args, '--out', 'plugin');
  const { manifest } = plugIn(required(args, '--model', 'plugin'), required(args, '--adapter', 'plugin'), out);
  console.log(`plugged ${manifest.method} adapter into blocks [${manifest.adapter_blocks}]: ${out}`);
}
