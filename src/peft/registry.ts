// The registry of tuners. Adding a PEFT method is one file (a Tuner) and one line below;
// `tune`, `plugin`, experiment configurations and the CLI read the list from here.
import type { Tuner } from './tuner.js';
import { fullTuner } from './full.js';
import { loraTuner } from './lora.js';
import { bottleneckTuner } from './bottleneck.js';

const TUNERS = new Map<string, Tuner>();

/** Adds a tuner to the registry. */
export function registerTuner(t: Tuner): void {
  if (TUNERS.has(t.name)) throw new Error(`tuner "${t.name}" is registered twice`);
  TUNERS.set(t.name, t);
}

/** The registered tuner of that name; the error lists the known ones. */
export function getTuner(name: string): Tuner {
  const t = TUNERS.get(name);
  if (!t) throw new Error(`unknown tuning method ${JSON.stringify(name)} (known: ${tunerNames().join(', ')})`);
  return t;
}

export function tunerNames(): string[] {
  return [...TUNERS.keys()];
}

registerTuner(fullTuner);
registerTuner(loraTuner);
registerTuner(bottleneckTuner);
