#!/usr/bin/env node
// The `scaleot` command line. Each command parses its flags into a typed config and calls
// the library; errors go to stderr as one line, with a non-zero exit and no stack trace.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo } from './demo.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const USAGE = `usage: scaleot <command> [options]

commands:
  demo [--steps N]   train a small byte-level GPT-2 with the native core (default 1000 steps)
  help               this text
`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

function positiveInt(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

function main(argv: string[]): number {
  const [command, ...args] = argv;
  switch (command) {
    case 'demo':
      runDemo({ steps: positiveInt(flag(args, '--steps'), '--steps', 1000), root });
      return 0;
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`scaleot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
