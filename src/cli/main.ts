#!/usr/bin/env node
// The `scaleot` command line. Each command parses its flags into a typed config and calls
// the library (which prints nothing itself); `scaleot <command> --help` prints the
// command's flags with their defaults. Errors go to stderr as one line, with a non-zero
// exit and no stack trace.
import { FlagSpec, HelpRequest } from './args.js';
import { DEMO_FLAGS, runDemoCommand } from './demo.js';
import { EXPERIMENT_FLAGS, runExperimentCommand } from './experiment.js';
import { REPORT_FLAGS, CHECK_REPORT_FLAGS, runReport, runCheckReport } from './report.js';
import { EVAL_FLAGS, runEval } from './eval.js';
import { GENERATE_FLAGS, runGenerate } from './generate.js';
import { INSPECT_FLAGS, runInspect } from './inspect.js';
import { FINETUNE_FLAGS, runFinetune } from './finetune.js';
import { IMPORTANCE_FLAGS, runImportance } from './importance.js';
import { EMULATOR_FLAGS, TUNE_FLAGS, PLUGIN_FLAGS, runEmulator, runTune, runPlugin } from './offsite.js';
import { DATA_FLAGS, PRETRAIN_FLAGS, runData, runPretrain } from './pretrain.js';

interface Command {
  flags: FlagSpec;
  run: (argv: string[]) => void;
}

/** Every command, in the order `scaleot help` lists them. */
export const COMMANDS: Record<string, Command> = {
  demo: { flags: DEMO_FLAGS, run: runDemoCommand },
  experiment: { flags: EXPERIMENT_FLAGS, run: runExperimentCommand },
  report: { flags: REPORT_FLAGS, run: runReport },
  'check-report': { flags: CHECK_REPORT_FLAGS, run: runCheckReport },
  inspect: { flags: INSPECT_FLAGS, run: runInspect },
  generate: { flags: GENERATE_FLAGS, run: runGenerate },
  eval: { flags: EVAL_FLAGS, run: runEval },
  data: { flags: DATA_FLAGS, run: runData },
  pretrain: { flags: PRETRAIN_FLAGS, run: runPretrain },
  finetune: { flags: FINETUNE_FLAGS, run: runFinetune },
  importance: { flags: IMPORTANCE_FLAGS, run: runImportance },
  emulator: { flags: EMULATOR_FLAGS, run: runEmulator },
  tune: { flags: TUNE_FLAGS, run: runTune },
  plugin: { flags: PLUGIN_FLAGS, run: runPlugin },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    'usage: scaleot <command> [flags]     (scaleot <command> --help for its flags and defaults)',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.flags.summary ?? ''}`),
    '  help'.padEnd(width + 2) + 'this text',
    '',
    'A model DIR is a Hugging Face checkpoint directory (config.json, model.safetensors or a',
    'sharded index, tokenizer files). Nothing is downloaded.',
    '',
  ].join('\n');
}

function main(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(usage());
    return;
  }
  const c = COMMANDS[command];
  if (!c) throw new Error(`unknown command "${command}"\n${usage()}`);
  c.run(rest);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (e instanceof HelpRequest) process.stdout.write(e.message);
  else {
    process.stderr.write(`scaleot: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  }
}
