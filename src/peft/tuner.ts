// The tuner interface, after peft's config / layer / model split: one object per way of
// tuning the adapter blocks (all weights, LoRA, bottleneck adapters). A tuner prepares a
// model (swaps in its layers and says which parameters train, under the names they are
// shipped with), states the names and shapes it would create without changing the model
// (what the plug-in expects to receive), writes any extra export files (peft's layout for
// LoRA), and merges into plain weights where it can. `offsite/tune`, `offsite/plugin`, the
// experiment configuration and the CLI take the list of tuners from peft/registry.ts.
import type { CausalLM } from '../models/causal_lm.js';
import type { Parameter } from '../nn/module.js';
import type { TensorToWrite } from '../io/safetensors.js';

/** One adapter in an aggregation (FedAvg over data owners): its tensors, config and weight. */
export interface AggregationMember {
  tensors: Map<string, Float32Array>;
  shapes: Map<string, readonly number[]>;
  config: unknown;
  /** Non-negative; the members' weights sum to 1. */
  weight: number;
}

/** What a tuner is given besides the model: the seed of its initialisation and its config. */
export interface TunerOptions {
  seed: number;
  /** The tuner's own settings (LoRA's r and α); undefined means the tuner's defaults. */
  config?: unknown;
}

export interface Tuner {
  /** The name in configs, manifests and on the command line ("full", "lora", "adapter"). */
  readonly name: string;
  /** A short description for help texts and reports. */
  readonly description: string;
  /**
   * Makes `blocks` trainable by this method (everything else frozen); returns the trainable
   * parameters under the names they are shipped with.
   */
  prepare(model: CausalLM, blocks: number[], opts: TunerOptions): [string, Parameter][];
  /** The names and shapes prepare() would create, read off the model without changing it. */
  expectedShapes(model: CausalLM, blocks: number[], config?: unknown): Map<string, readonly number[]>;
  /** Folds the prepared layers of `blocks` back into plain weights; absent when impossible. */
  merge?(model: CausalLM, blocks: number[]): void;
  /** Fields this tuner adds to the adapter manifest (e.g. {lora: {r, alpha}}). */
  manifestFields?(config: unknown): Record<string, unknown>;
  /** The config a manifest written with manifestFields() describes. */
  configFromManifest?(manifest: Record<string, unknown>): unknown;
  /**
   * Several data owners' adapters of the same emulator as one adapter that plugs in like any
   * other (FedAvg): the weighted average of their parameter deltas, as this tuner can hold it.
   */
  aggregate(members: AggregationMember[]): { tensors: Map<string, Float32Array>; shapes: Map<string, readonly number[]>; config: unknown };
  /** Extra files in the adapter package (peft's layout), written into `dir`; returns their names. */
  exportFiles?(dir: string, tensors: TensorToWrite[], ctx: { architectureConfig: Record<string, unknown>; blocks: number[]; config: unknown }): string[];
}
