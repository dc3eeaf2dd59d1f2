// The offsite-tuning commands:
//   scaleot emulator --model DIR --importance DIR [--adapters N_a] [--alpha α] [--beta β]
//                    [--target attn|ffn|all] [--no-src] [--groups N_g] --out PKG
//   scaleot tune --emulator PKG (--task NAME | --train F --validation F --test F)
//                [--method full|lora|adapter] [--lrs ...] [--steps N] [--batch N] --out DIR
//   scaleot plugin --model DIR --adapter ADAPTER --out DIR
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EMULATOR } from '../offsite/emulator.js';
import { createEmulator } from '../offsite/emulator_package.js';
import { offsiteTune, TuneMethod } from '../offsite/tune.js';
import { plugIn } from '../offsite/plugin.js';
import { PAPER_LR_GRID } from '../train/finetune.js';
import { loadTask, loadTaskFile, BUILTIN_TASKS } from '../data/tasks.js';
import { defaultDataDir, ensureData } from '../data/build.js';
import { parseArgs, required, intFlag, numberFlag, UsageError, ParsedArgs } from './args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function runEmulator(argv: string[]): void {
  const args = parseArgs('emulator', argv, {
    values: ['--model', '--importance', '--adapters', '--alpha', '--beta', '--target', '--groups', '--out'],
    switches: ['--no-src', '--json'],
  });
  const target = args.values.get('--target') ?? 'attn';
  if (!['attn', 'ffn', 'all'].includes(target)) throw new UsageError('--target must be attn, ffn or all');
  const m = createEmulator(required(args, '--model', 'emulator'), required(args, '--importance', 'emulator'), {
    numAdapters: intFlag(args, '--adapters', DEFAULT_EMULATOR.numAdapters, 0),
    alpha: numberFlag(args, '--alpha', DEFAULT_EMULATOR.alpha, 0, 1),
    beta: numberFlag(args, '--beta', DEFAULT_EMULATOR.beta, 0, 1),
    srcTarget: target as 'attn' | 'ffn' | 'all',
    noSrc: args.switches.has('--no-src'),
    numGroups: intFlag(args, '--groups', DEFAULT_EMULATOR.numGroups),
  }, required(args, '--out', 'emulator'), (s) => process.stderr.write(s + '\n'));
  if (args.switches.has('--json')) console.log(JSON.stringify(m));
  else {
    const p = m.parameters;
    console.log(`emulator: adapters [${m.plan.adapters}], harmonized [${m.plan.harmonized}], SRC [${m.plan.compressed}]`);
    console.log(`size: ${p.emulator.toLocaleString()} of ${p.full_model.toLocaleString()} parameters (${(100 * p.relative_size).toFixed(1)}% of the full model)`);
    for (const s of m.statements) console.log(`- ${s}`);
  }
}

function tasksFrom(args: ParsedArgs, command: string) {
  const name = args.values.get('--task');
  if (name) {
    if (!BUILTIN_TASKS.includes(name)) throw new UsageError(`${command}: unknown task "${name}" (built-in: ${BUILTIN_TASKS.join(', ')})`);
    const dataDir = args.values.get('--data-dir') ?? defaultDataDir(root);
    ensureData(dataDir, (s) => process.stderr.write(`data: ${s}\n`));
    return { train: loadTask(name, 'train', dataDir), validation: loadTask(name, 'validation', dataDir), test: loadTask(name, 'test', dataDir) };
  }
  return {
    train: loadTaskFile(required(args, '--train', command)),
    validation: loadTaskFile(required(args, '--validation', command)),
    test: loadTaskFile(required(args, '--test', command)),
  };
}

export function parseLrs(s: string | undefined): number[] {
  return (s ?? PAPER_LR_GRID.join(',')).split(',').map((x) => {
    const v = Number(x);
    if (!(v > 0 && v < 1)) throw new UsageError(`learning rate "${x}" must be a number in (0, 1)`);
    return v;
  });
}

export function runTune(argv: string[]): void {
  const args = parseArgs('tune', argv, {
    values: ['--emulator', '--task', '--train', '--validation', '--test', '--method', '--lrs', '--steps', '--batch', '--eval-limit', '--data-dir', '--out', '--seed', '--checkpoint-every'],
    switches: ['--json'],
  });
  const method = (args.values.get('--method') ?? 'full') as TuneMethod;
  if (!['full', 'lora', 'adapter'].includes(method)) throw new UsageError('--method must be full, lora or adapter');
  const r = offsiteTune(required(args, '--emulator', 'tune'), tasksFrom(args, 'tune'), required(args, '--out', 'tune'), {
    method,
    lrs: parseLrs(args.values.get('--lrs')),
    steps: intFlag(args, '--steps', 300),
    batchSize: intFlag(args, '--batch', 16),
    evalLimit: args.values.has('--eval-limit') ? intFlag(args, '--eval-limit', 1) : undefined,
    checkpointEvery: intFlag(args, '--checkpoint-every', 100),
    seed: intFlag(args, '--seed', 0, 0),
  });
  if (args.switches.has('--json')) console.log(JSON.stringify(r));
  else {
    console.log(`best lr ${r.bestLr}; Emu ZS test ${r.emuZeroShot.test.metric} ${r.emuZeroShot.test.value.toFixed(4)} -> Emu FT ${r.emuFinetuned.test.value.toFixed(4)}`);
    console.log(`adapter package: ${r.adapterDir}`);
  }
}

export function runPlugin(argv: string[]): void {
  const args = parseArgs('plugin', argv, { values: ['--model', '--adapter', '--out'] });
  const out = required(args, '--out', 'plugin');
  const { manifest } = plugIn(required(args, '--model', 'plugin'), required(args, '--adapter', 'plugin'), out);
  console.log(`plugged ${manifest.method} adapter into blocks [${manifest.adapter_blocks}]: ${out}`);
}
