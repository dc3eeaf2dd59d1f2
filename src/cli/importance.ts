// `scaleot importance --model DIR --out DIR [--data DIR] [--steps N] [--eta E] [--rank R]
//  [--batch B] [--seq-len T] [--lr LR] [--candidates N_c] [--groups N_g]
//  [--reward-scale running_std|none] [--resume] [--stop-after N]`
// Dynamic LayerReplace on D^T / D^V: DIR/dt.jsonl and DIR/dv.jsonl ({"text"} per line);
// by default the built pretraining corpus's.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { jsonlTokenStream } from '../data/streams.js';
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { estimateImportance, defaultImportanceConfig, DEFAULT_IMPORTANCE, ImportanceConfig } from '../offsite/scaleot/importance.js';
import { FlagSpec, parseArgs, required, intFlag, numberFlag, UsageError } from './args.js';
import { PRECISION_HELP, builtData, root, stderrLog, withPrecisionFlag } from './common.js';
import { defaultCorpusLocations, pretrainingTexts } from '../data/corpus.js';
import { progressLine } from './progress.js';

const D = DEFAULT_IMPORTANCE;
export const IMPORTANCE_FLAGS: FlagSpec = {
  summary: 'Dynamic LayerReplace (Eqs. 1-5): block importance scores and trained harmonizers (the model owner\'s step 1). Resumable.',
  values: ['--model', '--out', '--data', '--steps', '--eta', '--rank', '--batch', '--seq-len', '--lr', '--candidates', '--groups', '--reward-scale', '--seed', '--checkpoint-every', '--stop-after', '--data-dir', '--precision'],
  switches: ['--resume', '--json'],
  help: {
    '--model': 'the model directory (required)',
    '--out': 'output directory: scores.json, harmonizers.safetensors, training_log.jsonl (required)',
    '--data': 'a directory with dt.jsonl and dv.jsonl ({"text"} per line; default the model\'s own pre-training corpus: the larger one if its pretraining.json says so)',
    '--data-dir': 'where the built datasets live (when --data is not given)',
    '--steps': `DL + RL steps in all (default ${D.steps})`,
    '--eta': `score learning rate η (default ${D.eta}; the paper's is 1)`,
    '--rank': 'harmonizer rank r (default max(4, round(d / 16)))',
    '--batch': `windows per step (default ${D.batchSize})`,
    '--seq-len': `window length in tokens (default ${D.seqLen}, at most the model's context)`,
    '--lr': `harmonizer AdamW learning rate (default ${D.lr})`,
    '--candidates': `N_c, candidates per RL step (default ${D.numCandidates})`,
    '--groups': `N_g, groups of adjacent blocks (default ${D.numGroups})`,
    '--reward-scale': `running_std or none (default ${D.rewardScale})`,
    '--seed': `seed (default ${D.seed})`,
    '--checkpoint-every': `save the resumable state every N steps (default ${D.checkpointEvery})`,
    '--stop-after': 'save the state after N steps and stop (continue with --resume)',
    '--resume': 'continue from OUT/state',
    '--json': 'print the scores as JSON',
    '--precision': PRECISION_HELP,
  },
};

export function runImportance(argv: string[]): void {
  const args = parseArgs('importance', argv, IMPORTANCE_FLAGS);
  const dir = required(args, '--model', 'importance');
  const out = required(args, '--out', 'importance');
  // Default: the model's own pre-training distribution (the larger corpus for base-24).
  const given = args.values.get('--data');
  const own = given === undefined ? pretrainingTexts(dir, defaultCorpusLocations(root), builtData(args), stderrLog('corpus: ')) : null;
  const textOf = (p: 'dt' | 'dv') => own?.[p].path ?? join(given!, `${p}.jsonl`);
  const tok = TextTokenizer.fromDir(dir);
  const streamOf = (path: string) => {
    if (!existsSync(path)) throw new UsageError(`importance: ${path} does not exist`);
    return jsonlTokenStream(tok, path, tok.prefixTokenId, 'before');
  };
  const model = loadModel(dir);
  const hidden = model.spec.hiddenSize;
  const d = defaultImportanceConfig(hidden);
  const rewardScale = args.values.get('--reward-scale') ?? d.rewardScale;
  if (rewardScale !== 'none' && rewardScale !== 'running_std') throw new UsageError('--reward-scale must be running_std or none');
  const cfg: ImportanceConfig = {
    ...d,
    steps: intFlag(args, '--steps', d.steps),
    eta: numberFlag(args, '--eta', d.eta, 0),
    rank: intFlag(args, '--rank', d.rank),
    batchSize: intFlag(args, '--batch', d.batchSize),
    seqLen: Math.min(intFlag(args, '--seq-len', d.seqLen), model.maxContext),
    lr: numberFlag(args, '--lr', d.lr, 0),
    numCandidates: intFlag(args, '--candidates', d.numCandidates, 2),
    numGroups: intFlag(args, '--groups', d.numGroups),
    rewardScale,
    seed: intFlag(args, '--seed', d.seed, 0),
    checkpointEvery: intFlag(args, '--checkpoint-every', d.checkpointEvery),
  };
  const r = withPrecisionFlag(args, () => estimateImportance(model, hidden, streamOf(textOf('dt')), streamOf(textOf('dv')), cfg, out, {
    resume: args.switches.has('--resume'),
    stopAfter: args.values.has('--stop-after') ? intFlag(args, '--stop-after', 1) : undefined,
    log: stderrLog(), progress: progressLine('importance'),
  }));
  if (args.switches.has('--json')) console.log(JSON.stringify({ out, steps: r.steps, scores: r.scores }));
  else console.log(`scores after ${r.steps} steps: ${r.scores.map((s) => s.toFixed(3)).join(' ')}\nwritten to ${out}`);
}
