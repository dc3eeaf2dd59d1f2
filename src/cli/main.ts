#!/usr/bin/env node
// The `scaleot` command line. Each command parses its flags into a typed config and calls
// the library (which prints nothing itself); `scaleot <command> --help` prints the
// command's flags with their defaults. Errors go to stderr as one line, with no stack
// trace and exit status 2 for a wrong command line, 1 for any other failure.
import { HelpRequest, UsageError } from './args.js';
import { COMMANDS } from './commands.js';

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
  if (!c) throw new UsageError(`unknown command "${command}"\n${usage()}`);
  c.run(rest);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  if (e instanceof HelpRequest) process.stdout.write(e.message);
  else {
    process.stderr.write(`scaleot: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1; // 2: the command line was wrong
  }
}
