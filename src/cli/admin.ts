// scaleot admin --data DIR <add-model NAME MODEL_DIR | add-owner NAME | offer --model NAME
//   --owner NAME [--method M --adapters --alpha --beta --target] | revoke-key KEY | list> [--json]
// The model owner's administration, directly on the service's database (the server may be
// running: SQLite serialises the writers). With --json exactly one JSON object goes to stdout.
import { Service, ServiceError } from '../service/service.js';
import { ensureAdminToken } from '../service/auth.js';
import { methodNames } from '../offsite/methods.js';
import { DEFAULT_EMULATOR } from '../offsite/emulator.js';
import { FlagSpec, parseArgs, pickSubcommand, required, intFlag, numberFlag, UsageError, type ParsedArgs } from './args.js';

const DATA_HELP = { '--data': "the service's data directory (database and content store) (required)", '--json': 'print exactly one JSON object on stdout' };

const SUBCOMMANDS: Record<string, { spec: FlagSpec; run: (s: Service, a: ParsedArgs) => Record<string, unknown>; text: (r: Record<string, unknown>) => string }> = {
  'add-model': {
    spec: { summary: 'Register a model directory under a name.', positional: ['NAME', 'MODEL_DIR'], values: ['--data'], switches: ['--json'], help: DATA_HELP },
    run: (s, a) => s.addModel(a.positional[0], a.positional[1]),
    text: (r) => `model ${r.model} (fingerprint ${String(r.fingerprint).slice(0, 16)}…)`,
  },
  'add-owner': {
    spec: { summary: 'Register a data owner; prints its API key once (only a salted hash is kept).', positional: ['NAME'], values: ['--data'], switches: ['--json'], help: DATA_HELP },
    run: (s, a) => s.addOwner(a.positional[0]),
    text: (r) => `owner ${r.owner}\nkey ${r.key}\n(shown once: only a salted hash is stored)`,
  },
  offer: {
    spec: {
      summary: "Offer an emulator of a model to a data owner: queues its building (importance and emulator, reusing finished stages).",
      values: ['--data', '--model', '--owner', '--method', '--adapters', '--alpha', '--beta', '--target'], switches: ['--json'],
      help: {
        ...DATA_HELP, '--model': 'a registered model (required)', '--owner': 'a registered data owner (required)',
        '--method': `the offsite-tuning method (${methodNames().join(', ')}; default scaleot)`,
        '--adapters': `N_a (default ${DEFAULT_EMULATOR.numAdapters})`, '--alpha': `α (default ${DEFAULT_EMULATOR.alpha})`,
        '--beta': `β (default ${DEFAULT_EMULATOR.beta})`, '--target': `SRC target attn, ffn or all (default ${DEFAULT_EMULATOR.srcTarget})`,
      },
    },
    run: (s, a) => {
      const target = a.values.get('--target') ?? DEFAULT_EMULATOR.srcTarget;
      if (target !== 'attn' && target !== 'ffn' && target !== 'all') throw new UsageError('admin offer: --target must be attn, ffn or all');
      const method = a.values.get('--method') ?? 'scaleot';
      if (!methodNames().includes(method)) throw new UsageError(`admin offer: --method must be one of ${methodNames().join(', ')}`);
      return s.offer(required(a, '--model', 'admin offer'), required(a, '--owner', 'admin offer'), method, {
        numAdapters: intFlag(a, '--adapters', DEFAULT_EMULATOR.numAdapters), alpha: numberFlag(a, '--alpha', DEFAULT_EMULATOR.alpha, 0, 1),
        beta: numberFlag(a, '--beta', DEFAULT_EMULATOR.beta, 0, 1), srcTarget: target,
      });
    },
    text: (r) => `offer ${r.offer}, building in job ${r.job}`,
  },
  'revoke-key': {
    spec: { summary: 'Revoke an API key (the whole key, or its id: the part after sok_).', positional: ['KEY'], values: ['--data'], switches: ['--json'], help: DATA_HELP },
    run: (s, a) => {
      const r = s.revokeKey(a.positional[0]);
      if (!r.revoked) throw new ServiceError('no such active key');
      return r;
    },
    text: () => 'revoked',
  },
  aggregate: {
    spec: {
      summary: "Combine several data owners' adapters of one offer's emulator into one (FedAvg); queues the job.", values: ['--data', '--offer', '--adapters', '--weights'], switches: ['--json'],
      help: { ...DATA_HELP, '--offer': 'an offer whose emulator the adapters were tuned on (required)', '--adapters': 'adapter ids, comma-separated (required)', '--weights': 'examples (the counts the owners reported) or uniform (default examples)' },
    },
    run: (s, a) => s.aggregate(required(a, '--offer', 'admin aggregate'), required(a, '--adapters', 'admin aggregate').split(','), a.values.get('--weights') ?? 'examples'),
    text: (r) => `aggregate adapter ${r.adapter}, job ${r.job}`,
  },
  list: {
    spec: { summary: 'List models, owners, keys (ids only), offers, adapters and jobs.', values: ['--data'], switches: ['--json'], help: DATA_HELP },
    run: (s) => s.list(),
    text: (r) => Object.entries(r).map(([k, rows]) => `${k}:\n${(rows as Record<string, unknown>[]).map((x) => `  ${Object.values(x).join('  ')}`).join('\n') || '  (none)'}`).join('\n'),
  },
};

export const ADMIN_FLAGS: FlagSpec = {
  summary: `The model owner's administration of the service: ${Object.keys(SUBCOMMANDS).join(', ')} (scaleot admin <subcommand> --help).`,
  positional: ['SUBCOMMAND'],
  values: ['--data'],
  switches: ['--json'],
  help: DATA_HELP,
};

export function runAdmin(argv: string[]): void {
  const { name: sub, sub: c, rest } = pickSubcommand('admin', ADMIN_FLAGS, SUBCOMMANDS, argv);
  const a = parseArgs(`admin ${sub}`, rest, c.spec);
  const service = new Service(required(a, '--data', `admin ${sub}`));
  try {
    const token = ensureAdminToken(service.db);
    if (token) process.stderr.write(`admin token (shown once; only a salted hash is stored): ${token}\n`);
    const r = c.run(service, a);
    console.log(a.switches.has('--json') ? JSON.stringify(r) : c.text(r));
  } finally {
    service.close();
  }
}
