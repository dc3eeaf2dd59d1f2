// A small flag parser: `--name value`, repeatable flags, boolean switches, and clear
// errors for unknown or malformed flags.
export class UsageError extends Error {
  override name = 'UsageError';
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
}

export interface ParsedArgs {
  values: Map<string, string>;
  repeated: Map<string, string[]>;
  switches: Set<string>;
  positional: string[];
}

export function parseArgs(command: string, argv: string[], spec: FlagSpec): ParsedArgs {
  const out: ParsedArgs = { values: new Map(), repeated: new Map(), switches: new Set(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      if (spec.switches?.includes(a)) out.switches.add(a);
      else if (spec.values?.includes(a) || spec.repeated?.includes(a)) {
        const v = argv[++i];
        if (v === undefined || v.startsWith('--')) throw new UsageError(`${command}: ${a} needs a value`);
        if (spec.repeated?.includes(a)) out.repeated.set(a, [...(out.repeated.get(a) ?? []), v]);
        else out.values.set(a, v);
      } else throw new UsageError(`${command}: unknown flag ${a}`);
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
