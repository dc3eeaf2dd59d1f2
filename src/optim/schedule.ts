// Learning-rate schedules. cosineWithWarmup follows transformers'
// get_cosine_schedule_with_warmup (linear warm-up from 0, then half a cosine), with an
// optional floor.
export interface CosineSchedule {
  maxLr: number;
  warmupSteps: number;
  totalSteps: number;
  minLr?: number; // default 0
}

/** Learning rate for optimizer step `step` (0-based: the lr used by the first update is step 0). */
export function cosineWithWarmup(step: number, s: CosineSchedule): number {
  const minLr = s.minLr ?? 0;
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (s.maxLr * step) / s.warmupSteps;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  return minLr + (s.maxLr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
