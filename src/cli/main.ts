#!/usr/bin/env node
// The `scaleot` command line. Each command parses its flags into a typed config and calls
// the library; errors go to stderr as one line, with a non-zero exit and no stack trace.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo } from './demo.js';
import { runEval } from './eval.js';
import { runGenerate } from './generate.js';
import { runInspect } from './inspect.js';
import { parseArgs, intFlag } from './args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const USAGE = `usage: scaleot <command> [options]

commands:
  demo [--steps N]                       train a small byte-level GPT-2 with the native core (default 1000 steps)
  inspect DIR [--json]                   architecture, parameters, blocks, dtypes, tokenizer, context of a checkpoint
  generate --model DIR --prompt TEXT     continue a prompt (--max-new-tokens N, --temperature T, --top-k K,
                                         --top-p P, --seed S, --json)
  eval --model DIR --ppl FILE [--json]   rolling-window perplexity of one document (--batch N, --context N)
  help                                   this text

A model DIR is a Hugging Face checkpoint directory (config.json, model.safetensors or a
sharded index, tokenizer files). Nothing is downloaded.
`;

function main(argv: string[]): void {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo': {
      const args = parseArgs('demo', rest, { values: ['--steps'] });
      runDemo({ steps: intFlag(args, '--steps', 1000), root });
      return;
    }
    case 'inspect':
      return runInspect(rest);
    case 'generate':
      return runGenerate(rest);
    case 'eval':
      return runEval(rest);
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return;
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`scaleot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
