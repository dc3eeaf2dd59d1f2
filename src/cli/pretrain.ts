// `scaleot pretrain --config FILE [--out DIR] [--resume] [--stop-after N]` pre-trains a
// base model from scratch; `scaleot data [--dir DIR] [--rebuild]` builds the datasets.
import { join } from 'node:path';
import { buildData, defaultDataDir, ensureData } from '../data/build.js';
import { buildCorpus, defaultCorpusDir, defaultCorpusLocations, ensureCorpus, ensureVariant, CORPUS_VARIANTS } from '../data/corpus.js';
import { nlpCorpusDir } from '../data/nlp_corpus.js';
import { pretrain, readPretrainConfig } from '../train/pretrain.js';
import { FlagSpec, parseArgs, intFlag, required, choiceFlag } from './args.js';
import { builtData, root, stderrLog } from './common.js';
import { progressLine } from './progress.js';

export const PRETRAIN_FLAGS: FlagSpec = {
  summary: 'Pre-train a GPT-2-architecture base model on the offline corpus, from scratch or continuing a model (the config\'s init_from); resumable, in pieces if need be.',
  values: ['--config', '--out', '--data-dir', '--stop-after', '--precision'],
  switches: ['--resume'],
  help: {
    '--config': 'the pre-training configuration, e.g. configs/base-16.json (required)',
    '--precision': 'matrix products in fp32 or bf16 (mixed precision); overrides the config\'s "precision" (default fp32)',
    '--out': 'the model directory to write (default models/<name>)',
    '--data-dir': 'where the built datasets live',
    '--stop-after': 'save the resumable state after N steps and stop',
    '--resume': 'continue from OUT/state',
  },
};

export function runPretrain(argv: string[]): void {
  const args = parseArgs('pretrain', argv, PRETRAIN_FLAGS);
  const cfg = readPretrainConfig(required(args, '--config', 'pretrain'));
  if (args.values.has('--precision')) cfg.precision = choiceFlag(args, '--precision', ['fp32', 'bf16'] as const, 'fp32');
  const data = builtData(args);
  // The larger corpora are built from Debian packages and nlp-corpus (scripts/install-corpus-sources.sh) on first use.
  const variant = cfg.corpus === undefined || cfg.corpus === 'small' ? null : cfg.corpus;
  const corpusDir = variant ? ensureVariant(variant, defaultCorpusLocations(root), data, stderrLog('corpus: ')).dir : undefined;
  const out = args.values.get('--out') ?? join(root, 'models', cfg.name);
  const stopAfter = args.values.has('--stop-after') ? intFlag(args, '--stop-after', 1) : undefined;
  const r = pretrain(cfg, data.dir, out, { resume: args.switches.has('--resume'), stopAfter, corpusDir, log: stderrLog(), progress: progressLine('pretrain') });
  console.log(JSON.stringify({ out: r.outDir, steps: r.steps, seconds: Math.round(r.seconds), final_train_loss: r.finalTrainLoss, validation_loss: r.validationLoss }));
}

export const DATA_FLAGS: FlagSpec = {
  summary: 'Build (or verify against the manifest) the offline datasets.',
  values: ['--dir', '--corpus-dir', '--variant'],
  switches: ['--rebuild', '--json', '--corpus'],
  help: {
    '--dir': 'the data directory (default .cache/data/<version>, or SCALEOT_DATA_DIR)',
    '--corpus': "also build a larger pre-training corpus from Debian's text packages and nlp-corpus (scripts/install-corpus-sources.sh)",
    '--variant': 'which larger corpus: large (base-24\'s, the default) or modern (large plus nlp-corpus\'s modern sentences)',
    '--corpus-dir': 'where the larger corpus goes (default .cache/data/corpus-<variant>-v1, or SCALEOT_CORPUS_DIR / SCALEOT_MODERN_CORPUS_DIR)',
    '--rebuild': 'build again even if valid', '--json': 'print the manifest',
  },
};

export function runData(argv: string[]): void {
  const args = parseArgs('data', argv, DATA_FLAGS);
  const dir = args.values.get('--dir') ?? defaultDataDir(root);
  const log = stderrLog('data: ');
  let built = args.switches.has('--rebuild') ? buildData(dir, log) : ensureData(dir, log);
  if (args.switches.has('--corpus')) {
    const variant = choiceFlag(args, '--variant', CORPUS_VARIANTS, 'large');
    const cdir = args.values.get('--corpus-dir') ?? defaultCorpusDir(root, variant);
    const opts = { variant, nlpDir: nlpCorpusDir(root) };
    built = args.switches.has('--rebuild') ? buildCorpus(cdir, dir, built.manifest, log, opts) : ensureCorpus(cdir, dir, built.manifest, log, opts);
  }
  if (args.switches.has('--json')) console.log(JSON.stringify(built.manifest));
  else for (const [f, m] of Object.entries(built.manifest.files)) console.log(`${join(built.dir, f)}  ${m.records} records  ${m.bytes} bytes  sha256 ${m.sha256.slice(0, 16)}`);
}
