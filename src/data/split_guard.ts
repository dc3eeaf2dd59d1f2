// Test is read once (METHOD.md "Protocol"): every free choice — learning rates, steps, η,
// ranks, budgets — is made on validation splits, and a test split is read only by the final
// evaluation of a configuration. The guard makes that checkable rather than a convention:
// code that makes a choice runs inside `splitGuard.during(stage, 'selection', fn)`, code that
// reports a final score inside `during(stage, 'evaluation', fn)`; every opening of a task's
// split goes through `splitGuard.open`, which records (stage, task, split) and refuses a test
// split inside a selection stage. Opening outside any stage (a user's `scaleot eval`, a
// script) is recorded and allowed.
import type { Split } from './build.js';

/** 'selection': the stage makes a choice and may not see test; 'evaluation': it reports scores. */
export type StagePurpose = 'selection' | 'evaluation';

export interface SplitAccess {
  /** The innermost stage that was running, or null outside every stage. */
  stage: string | null;
  purpose: StagePurpose | null;
  task: string;
  split: Split;
}

export class TestSplitInSelectionError extends Error {
  constructor(readonly access: SplitAccess, readonly stages: string[]) {
    super(`the test split of "${access.task}" was opened inside the selection stage "${stages.join(' > ')}": `
      + 'choices are made on validation only (METHOD.md "Protocol"); score test in an evaluation stage after the choice');
  }
}

export class SplitGuard {
  private readonly stack: { stage: string; purpose: StagePurpose }[] = [];
  /** Every opening so far, in order (bounded: see `limit`). */
  readonly accesses: SplitAccess[] = [];

  constructor(private readonly limit = 100_000) {}

  /**
   * Runs fn as a stage. A selection stage stays a selection stage inside: an 'evaluation'
   * nested in a 'selection' (an lr search that scores candidates) may still not read test.
   */
  during<T>(stage: string, purpose: StagePurpose, fn: () => T): T {
    this.stack.push({ stage, purpose });
    try {
      return fn();
    } finally {
      this.stack.pop();
    }
  }

  /** True while some enclosing stage is a selection stage. */
  inSelection(): boolean {
    return this.stack.some((s) => s.purpose === 'selection');
  }

  /** Records an opening of `task`'s `split`; throws for test inside a selection stage. */
  open(task: string, split: Split): void {
    const top = this.stack.at(-1);
    const access: SplitAccess = { stage: top?.stage ?? null, purpose: this.inSelection() ? 'selection' : (top?.purpose ?? null), task, split };
    if (this.accesses.length < this.limit) this.accesses.push(access);
    if (split === 'test' && access.purpose === 'selection') throw new TestSplitInSelectionError(access, this.stack.map((s) => s.stage));
  }

  /** Forget the recorded accesses (tests; a long-lived service between jobs). */
  clear(): void {
    this.accesses.length = 0;
  }
}

/** The process's guard: the data layer reports to it, stages declare themselves to it. */
export const splitGuard = new SplitGuard();

/**
 * A task's three splits behind the guard: each property read is an opening (recorded, and
 * refused for test inside a selection stage); each split is loaded once, on first use.
 */
export function guardedSplits<T>(task: string, load: (split: Split) => T): { readonly train: T; readonly validation: T; readonly test: T } {
  const loaded = new Map<Split, T>();
  const get = (split: Split): T => {
    splitGuard.open(task, split);
    if (!loaded.has(split)) loaded.set(split, load(split));
    return loaded.get(split)!;
  };
  return {
    get train() { return get('train'); },
    get validation() { return get('validation'); },
    get test() { return get('test'); },
  };
}
