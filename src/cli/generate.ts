// `scaleot generate --model DIR --prompt TEXT [--max-new-tokens N] [--temperature T]
//  [--top-k K] [--top-p P] [--seed S] [--weights fp32|bf16|auto] [--json]`
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { generate } from '../inference/generate.js';
import { FlagSpec, parseArgs, required, intFlag, numberFlag, choiceFlag, UsageError } from './args.js';
import { WEIGHTS_CHOICES, WEIGHTS_HELP } from './common.js';

export const GENERATE_FLAGS: FlagSpec = {
  summary: 'Continue a prompt with a model (greedy by default).',
  values: ['--model', '--prompt', '--max-new-tokens', '--temperature', '--top-k', '--top-p', '--seed', '--weights'],
  switches: ['--json'],
  help: {
    '--model': 'the model directory (required)', '--prompt': 'the text to continue (required)',
    '--max-new-tokens': 'tokens to generate (default 32)', '--temperature': 'sampling temperature; 0 is greedy (default 0)',
    '--top-k': 'sample from the k most likely tokens; 0 is all (default 0)', '--top-p': 'nucleus sampling mass (default 1)',
    '--seed': 'sampling seed (default 0)', '--weights': WEIGHTS_HELP, '--json': 'print prompt, completion, ids and speed as JSON',
  },
};

export function runGenerate(argv: string[]): void {
  const args = parseArgs('generate', argv, GENERATE_FLAGS);
  const dir = required(args, '--model', 'generate');
  const prompt = required(args, '--prompt', 'generate');
  const tokenizer = TextTokenizer.fromDir(dir);
  const model = loadModel(dir, { weights: choiceFlag(args, '--weights', WEIGHTS_CHOICES, 'auto') });
  const ids = tokenizer.encode(prompt);
  if (ids.length === 0) throw new UsageError('generate: the prompt encodes to no tokens');
  const maxNew = Math.min(intFlag(args, '--max-new-tokens', 32), model.maxContext - ids.length);
  if (maxNew < 1) throw new UsageError(`generate: the prompt already fills the model's context of ${model.maxContext} tokens`);
  const started = performance.now();
  const out = generate(model, ids, {
    maxNewTokens: maxNew,
    temperature: numberFlag(args, '--temperature', 0, 0),
    topK: intFlag(args, '--top-k', 0, 0),
    topP: numberFlag(args, '--top-p', 1, 0, 1),
    seed: intFlag(args, '--seed', 0, 0),
    eosTokenId: tokenizer.eosTokenId,
  });
  const secs = (performance.now() - started) / 1000;
  const text = tokenizer.decode(out);
  if (args.switches.has('--json')) console.log(JSON.stringify({ prompt, completion: text, prompt_ids: ids, ids: out, tokens_per_s: out.length / secs }));
  else console.log(prompt + text);
}
