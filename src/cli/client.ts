// scaleot client --server URL [--key KEY | $SCALEOT_KEY] [--ca PEM] <offers | pull OFFER --out DIR |
//   push OFFER ADAPTER_DIR [--examples N] [--validation TASK | --validation-file FILE] | jobs | generate OFFER --adapter ID
//   --prompt TEXT [--max-tokens N]> [--json]
// The data owner's side of the service. With --json exactly one JSON object goes to stdout;
// progress goes to stderr on a terminal only.
import { ServiceClient } from '../service/client.js';
import { FlagSpec, parseArgs, pickSubcommand, required, intFlag, UsageError, type ParsedArgs } from './args.js';

const COMMON = ['--server', '--key', '--ca'];
const COMMON_HELP = {
  '--server': 'the service URL, e.g. https://owner.example:8470 (required)',
  '--key': 'your API key (default $SCALEOT_KEY)',
  '--ca': "PEM of the CA that signed the server's certificate",
  '--json': 'print exactly one JSON object on stdout',
};

type Sub = { spec: FlagSpec; run: (c: ServiceClient, a: ParsedArgs) => Promise<Record<string, unknown>>; text: (r: Record<string, unknown>) => string };

const SUBCOMMANDS: Record<string, Sub> = {
  offers: {
    spec: { summary: 'List the emulators offered to you.', values: COMMON, switches: ['--json'], help: COMMON_HELP },
    run: async (c) => {
      const r = await c.offers();
      return { offers: (r.offers as Record<string, unknown>[]).map((o) => ({ id: o.id, state: o.state, method: o.method, settings: o.settings })) };
    },
    text: (r) => (r.offers as { id: string; state: string; method: string }[]).map((o) => `${o.id}  ${o.state}  ${o.method}`).join('\n') || '(no offers)',
  },
  pull: {
    spec: { summary: "Download an offer's emulator package (resumable; every file checked by sha256).", positional: ['OFFER'], values: [...COMMON, '--out'], switches: ['--json'], help: { ...COMMON_HELP, '--out': 'the directory to write (required)' } },
    run: (c, a) => c.pull(a.positional[0], required(a, '--out', 'client pull')),
    text: (r) => Object.entries(r.files as Record<string, string>).map(([n, s]) => `${n}  sha256 ${s.slice(0, 16)}…`).join('\n'),
  },
  push: {
    spec: {
      summary: 'Upload an adapter package made by scaleot tune; returns the adapter and its plug-in job.', positional: ['OFFER', 'ADAPTER_DIR'], values: [...COMMON, '--examples', '--validation', '--validation-file'], switches: ['--json'],
      help: { ...COMMON_HELP, '--examples': 'how many training examples you tuned on (weights an aggregation)', '--validation': 'a built-in task whose validation split the model owner scores the plugged-in model on', '--validation-file': 'your own validation set instead (.jsonl of multiple-choice items {context, choices, label} or of {"text"} documents, or a plain-text file), uploaded with the adapter' },
    },
    run: (c, a) => c.push(a.positional[0], a.positional[1], { examples: a.values.has('--examples') ? intFlag(a, '--examples', 1) : undefined, validation: a.values.get('--validation'), validationFile: a.values.get('--validation-file') }),
    text: (r) => `adapter ${r.adapter}, plug-in job ${r.job}`,
  },
  jobs: {
    spec: { summary: 'List your jobs and their states.', values: COMMON, switches: ['--json'], help: COMMON_HELP },
    run: async (c) => {
      const r = await c.jobs();
      return { jobs: (r.jobs as Record<string, unknown>[]).map((j) => ({ id: j.id, kind: j.kind, state: j.state, result: j.result, error: j.error })) };
    },
    text: (r) => (r.jobs as { id: string; kind: string; state: string; error: string | null }[]).map((j) => `${j.id}  ${j.kind}  ${j.state}${j.error ? `  ${j.error}` : ''}`).join('\n') || '(no jobs)',
  },
  generate: {
    spec: {
      summary: 'Text from your tuned model, run by the model owner (you never receive the model).', positional: ['OFFER'], values: [...COMMON, '--adapter', '--prompt', '--max-tokens'], switches: ['--json'],
      help: { ...COMMON_HELP, '--adapter': 'an adapter id from push (required)', '--prompt': 'the prompt (required)', '--max-tokens': 'new tokens (default 40)' },
    },
    run: (c, a) => c.generate(a.positional[0], required(a, '--adapter', 'client generate'), required(a, '--prompt', 'client generate'), intFlag(a, '--max-tokens', 40)),
    text: (r) => String(r.text),
  },
};

export const CLIENT_FLAGS: FlagSpec = {
  summary: `The data owner's client of a scaleot service: ${Object.keys(SUBCOMMANDS).join(', ')} (scaleot client <subcommand> --help).`,
  positional: ['SUBCOMMAND'],
  values: COMMON,
  switches: ['--json'],
  help: COMMON_HELP,
};

export function runClient(argv: string[]): void {
  const { name: sub, sub: s, rest } = pickSubcommand('client', CLIENT_FLAGS, SUBCOMMANDS, argv);
  const a = parseArgs(`client ${sub}`, rest, s.spec);
  const key = a.values.get('--key') ?? process.env.SCALEOT_KEY;
  if (!key) throw new UsageError(`client ${sub}: give --key or set SCALEOT_KEY`);
  const tty = process.stderr.isTTY;
  const client = new ServiceClient({
    server: required(a, '--server', `client ${sub}`), key, ca: a.values.get('--ca'),
    progress: tty ? (file, done, total) => process.stderr.write(`\r${file}: ${(done / 2 ** 20).toFixed(1)} / ${(total / 2 ** 20).toFixed(1)} MB${done >= total ? '\n' : ''}`) : undefined,
  });
  s.run(client, a).then((r) => console.log(a.switches.has('--json') ? JSON.stringify(r) : s.text(r)), (e: Error) => {
    process.stderr.write(`scaleot: client ${sub}: ${e.message}\n`);
    process.exitCode = 1;
  });
}
