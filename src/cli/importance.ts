// `scaleot importance --model DIR --out DIR [--data DIR] [--steps N] [--eta E] [--rank R]
//  [--batch B] [--seq-len T] [--lr LR] [--candidates N_c] [--groups N_g]
//  [--reward-scale running_std|none] [--resume] [--stop-after N]`
// Dynamic LayerReplace on D^T / D^V: DIR/dt.jsonl and DIR/dv.jsonl ({"text"} per line);
// by default the built pretraining corpus's.
import { existsSync } from 'node:fs';
import { jsonlTokenStream } from '../data/streams.js';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../models/load.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { estimateImportance, defaultImportanceConfig, ImportanceConfig } from '../offsite/scaleot/importance.js';
import { defaultDataDir, ensureData } from '../data/build.js';
import { parseArgs, required, intFlag, numberFlag, UsageError } from './args.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function runImportance(argv: string[]): void {
  const args = parseArgs('importance', argv, {
    values: ['--model', '--out', '--data', '--steps', '--eta', '--rank', '--batch', '--seq-len', '--lr', '--candidates', '--groups', '--reward-scale', '--seed', '--checkpoint-every', '--stop-after'],
    switches: ['--resume', '--json'],
  });
  const dir = required(args, '--model', 'importance');
  const out = required(args, '--out', 'importance');
  let data = args.values.get('--data');
  if (!data) {
    const d = defaultDataDir(root);
    ensureData(d, (s) => process.stderr.write(`data: ${s}\n`));
    data = join(d, 'pretrain');
  }
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
  const r = estimateImportance(model, hidden, streamOf(join(data, 'dt.jsonl')), streamOf(join(data, 'dv.jsonl')), cfg, out, {
    resume: args.switches.has('--resume'),
    stopAfter: args.values.has('--stop-after') ? intFlag(args, '--stop-after', 1) : undefined,
  });
  if (args.switches.has('--json')) console.log(JSON.stringify({ out, steps: r.steps, scores: r.scores }));
  else console.log(`scores after ${r.steps} steps: ${r.scores.map((s) => s.toFixed(3)).join(' ')}\nwritten to ${out}`);
}
