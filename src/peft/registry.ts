// The registry of tuners. Adding a PEFT method is one file (a Tuner) and one line below;
// `tune`, `plugin`, experiment configurations and the CLI read the list from here.
import type { Tuner } from './tuner.js';
import { Registry } from '../util/registry.js';
import { fullTuner } from './full.js';
import { loraTuner } from './lora.js';
import { bottleneckTuner } from './bottleneck.js';

const TUNERS = new Registry<Tuner>('tuning method');

/** Adds a tuner to the registry. */
export const registerTuner = (t: Tuner): void => TUNERS.register(t);
/** The registered tuner of that name; the error lists the known ones. */
export const getTuner = (name: string): Tuner => TUNERS.get(name);
export const tunerNames = (): string[] => TUNERS.names();

registerTuner(fullTuner);
registerTuner(loraTuner);
registerTuner(bottleneckTuner);
