// A small flag parser: `--name value`, repeatable flags, boolean switches, clear errors for
// unknown or malformed flags (with the nearest known flag suggested), and `--help`, which
// prints the command's flags with what they do and their defaults.
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Thrown for `--help`: the CLI prints the text to stdout and exits 0. */
export class HelpRequest extends Error {
  override name = 'HelpRequest';
}

export interface FlagSpec {
  /** Flags taking a value. */
  values?: string[];
  /** Flags taking a value that may be given several times. */
  repeated?: string[];
  /** Boolean switches. */
  switches?: string[];
  /** Names of positional arguments, in order (all required). */
  positional?: string[];
  /** What the command does (first line of --help). */
  summary?: string;
  /** Each flag's --help line: what it does and its default. */
  help?: Record<string, string>;
}

/** The --help text of a command: its summary, then every flag with its description. */
export function helpText(command: string, spec: FlagSpec): string {
  const flags = [...(spec.values ?? []), ...(spec.repeated ?? []), ...(spec.switches ?? [])];
  const shown = (f: string) => (spec.values?.includes(f) || spec.repeated?.includes(f) ? `${f} VALUE` : f);
  const width = Math.max(0, ...flags.map((f) => shown(f).length)) + 2;
  const lines = [`usage: scaleot ${command}${(spec.positional ?? []).map((p) => ` ${p}`).join('')} [flags]`];
  if (spec.summary) lines.push('', spec.summary);
  if (flags.length) lines.push('', 'flags:');
  for (const f of flags) lines.push(`  ${shown(f).padEnd(width)}${spec.help?.[f] ?? ''}${spec.repeated?.includes(f) ? ' (repeatable)' : ''}`);
  return lines.join('\n') + '\n';
}

/** Levenshtein distance, for suggesting the flag a typo meant. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur.push(Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = cur;
  }
  return prev[b.length];
}

/** The known flag nearest to `flag` if it is close enough to be a typo. */
export function nearestFlag(flag: string, known: string[]): string | null {
  let best: string | null = null, bestD = Infinity;
  for (const k of known) {
    const d = editDistance(flag, k);
    if (d < bestD) (best = k), (bestD = d);
  }
  return best !== null && bestD <= Math.max(2, Math.floor(flag.length / 3)) ? best : null;
}

export interface ParsedArgs {
  values: Map<string, string>;
  repeated: Map<string, string[]>;
  switches: Set<string>;
  positional: string[];
}

export function parseArgs(command: string, argv: string[], spec: FlagSpec): ParsedArgs {
  const out: ParsedArgs = { values: new Map(), repeated: new Map(), switches: new Set(), positional: [] };
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequest(helpText(command, spec));
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      if (spec.switches?.includes(a)) out.switches.add(a);
      else if (spec.values?.includes(a) || spec.repeated?.includes(a)) {
        const v = argv[++i];
        if (v === undefined || v.startsWith('--')) throw new UsageError(`${command}: ${a} needs a value`);
        if (spec.repeated?.includes(a)) out.repeated.set(a, [...(out.repeated.get(a) ?? []), v]);
        else out.values.set(a, v);
      } else {
        const near = nearestFlag(a, [...(spec.values ?? []), ...(spec.repeated ?? []), ...(spec.switches ?? [])]);
        throw new UsageError(`${command}: unknown flag ${a}${near ? ` (did you mean ${near}?)` : ''}; see scaleot ${command} --help`);
      }
    } else out.positional.push(a);
  }
  const want = spec.positional ?? [];
  if (out.positional.length !== want.length) {
    throw new UsageError(`${command}: expected ${want.length ? want.map((w) => `<${w}>`).join(' ') : 'no positional arguments'}, got ${out.positional.length}`);
  }
  return out;
}

export function required(args: ParsedArgs, flag: string, command: string): string {
  const v = args.values.get(flag);
  if (v === undefined) throw new UsageError(`${command}: ${flag} is required`);
  return v;
}

export function intFlag(args: ParsedArgs, flag: string, dflt: number, min = 1): number {
  const v = args.values.get(flag);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, got "${v}"`);
  return n;
}

export function numberFlag(args: ParsedArgs, flag: string, dflt: number, min = -Infinity, max = Infinity): number {
  const v = args.values.get(flag);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${flag} must be a number in [${min}, ${max}], got "${v}"`);
  return n;
}

/** A flag whose value must be one of `choices`. */
export function choiceFlag<C extends string>(args: ParsedArgs, flag: string, choices: readonly C[], dflt: C): C {
  const v = args.values.get(flag);
  if (v === undefined) return dflt;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`${flag} must be one of ${choices.join(', ')}, got "${v}"`);
  return v as C;
}

/**
 * `scaleot <command> <subcommand> ...`: the subcommand's entry, or --help listing them all,
 * or a usage error naming the known ones.
 */
export function pickSubcommand<T extends { spec: FlagSpec }>(command: string, spec: FlagSpec, subcommands: Record<string, T>, argv: string[]): { name: string; sub: T; rest: string[] } {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') {
    const width = Math.max(...Object.keys(subcommands).map((n) => n.length)) + 2;
    throw new HelpRequest(`${helpText(command, spec)}\nsubcommands:\n${Object.entries(subcommands).map(([n, c]) => `  ${n.padEnd(width)}${c.spec.summary ?? ''}`).join('\n')}\n`);
  }
  const sub = subcommands[name];
  if (!sub) throw new UsageError(`${command}: unknown subcommand "${name}" (expected ${Object.keys(subcommands).join(', ')})`);
  return { name, sub, rest };
}
