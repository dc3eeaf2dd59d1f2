// Full tuning of the adapter blocks: every weight of each adapter block trains and is
// shipped under its checkpoint name (METHOD.md Stage 3, the paper's default).
import type { CausalLM } from '../models/causal_lm.js';
import { blockPrefix } from '../models/causal_lm.js';
import type { Parameter } from '../nn/module.js';
import type { Tuner } from './tuner.js';
import { weightedMean } from './aggregate.js';

function blockParameters(model: CausalLM, blocks: number[]): [string, Parameter][] {
  return blocks.flatMap((i) => model.blocks.at(i).namedParameters().map(([n, p]): [string, Parameter] => [model.spec.hfName(blockPrefix(model.spec, i) + n), p]));
}

export const fullTuner: Tuner = {
  name: 'full',
  description: 'all weights of the adapter blocks',
  prepare(model, blocks) {
    model.requiresGrad(false);
    for (const i of blocks) model.blocks.at(i).requiresGrad(true);
    return blockParameters(model, blocks);
  },
  expectedShapes(model, blocks) {
    return new Map(blockParameters(model, blocks).map(([n, p]) => [n, p.shape]));
  },
  merge() {
    // The tuned weights are the blocks' own: nothing to fold.
  },
  aggregate: (members) => ({ ...weightedMean(members), config: undefined }),
};
