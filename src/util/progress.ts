// How long-running library functions (pre-training, importance, tuning, experiments) tell
// their caller how far they are, without printing anything themselves: an optional
// callback. The CLI turns it into a progress line (cli/progress.ts).

export interface ProgressUpdate {
  /** Units done (steps, stages) and the total. */
  done: number;
  total: number;
  /** A short state to show beside the count ("loss 3.21"). */
  text?: string;
  /**
   * Of `done`, the units that took no work (an experiment's stages served from the cache):
   * left out of the rate, so the time left is not read off instant cache hits.
   */
  free?: number;
}

export type Progress = (p: ProgressUpdate) => void;
