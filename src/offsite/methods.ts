// The registry of offsite-tuning methods: ScaleOT and each baseline of METHOD.md say what
// they are called, which upstream stages they need and how they build an emulator in
// memory. The experiment runner (and the privacy audit and the service after it) iterate
// this registry; adding a baseline is one new file with an OffsiteMethod and one line below.
import type { CausalLM } from '../models/causal_lm.js';
import { Registry } from '../util/registry.js';
import type { Emulator, EmulatorSettings, ImportanceInput } from './emulator.js';
import type { DistillConfig } from './baselines/distill.js';
import { scaleotMethod, scaleotNoSrcMethod } from './scaleot/method.js';
import { dynamicDropMethod } from './baselines/dynamic_drop.js';
import { otMethod } from './baselines/uniform_drop.js';
import { otDistillMethod } from './baselines/distill.js';
import { crashMethod } from './baselines/crash.js';

/** What building an emulator may draw on; each getter is available when the method needs it. */
export interface BuildContext {
  /** A fresh copy of the model owner's model (building may change it, e.g. SRC in place). */
  loadModel(): CausalLM;
  settings: EmulatorSettings;
  /** round(α·n): the blocks every method removes, harmonizes or shares (equal size). */
  numRemoved: number;
  /** ScaleOT's importance scores and harmonizers (needs.importance). */
  importance(): ImportanceInput;
  /** Token streams of the model owner's D^T and D^V (needs.dt / needs.dv). */
  dT(): Int32Array;
  dV(): Int32Array;
  /** The distillation budget (needs.distill). */
  distill: DistillConfig;
  /** A directory for the method's checkpoints and side outputs (kept with the stage). */
  workDir: string;
  log: (s: string) => void;
  /** Reports training done while building (adds up): the report's equal-budget column. */
  recordCost(c: Partial<BuildCost>): void;
}

/** Training a method's build did itself (importance estimation is counted by its own stage). */
export interface BuildCost {
  gradientSteps: number;
  trainingTokens: number;
  forwardTokens: number;
}

export interface OffsiteMethod {
  /** The name in configurations and on the command line. */
  readonly name: string;
  /** The name in tables and reports. */
  readonly label: string;
  /** Upstream inputs; each one named here enters the emulator stage's cache key. */
  readonly needs: { importance?: boolean; dt?: boolean; dv?: boolean; distill?: boolean };
  /** The emulator settings this method uses, from the experiment's (e.g. without SRC). */
  settings(base: EmulatorSettings): EmulatorSettings;
  build(ctx: BuildContext): Emulator;
}

const METHODS = new Registry<OffsiteMethod>('offsite-tuning method');

export const registerMethod = (m: OffsiteMethod): void => METHODS.register(m);
export const getMethod = (name: string): OffsiteMethod => METHODS.get(name);
export const methodNames = (): string[] => METHODS.names();

registerMethod(scaleotMethod);
registerMethod(scaleotNoSrcMethod);
registerMethod(dynamicDropMethod);
registerMethod(otMethod);
registerMethod(otDistillMethod);
registerMethod(crashMethod);
