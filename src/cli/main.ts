#!/usr/bin/env node
// The `scaleot` command line. Each command parses its flags into a typed config and calls
// the library; errors go to stderr as one line, with a non-zero exit and no stack trace.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo } from './demo.js';
import { runExperimentCommand } from './experiment.js';
import { checkReportInBrowser, findChromium } from '../experiment/browser_check.js';
import { renderReport } from '../experiment/report_html.js';
import { buildTable1, table1Text } from '../experiment/tables.js';
import { RESULTS_FORMAT, ExperimentResults } from '../experiment/results.js';
import { writeFileAtomic } from '../io/atomic.js';
import { existsSync, readFileSync } from 'node:fs';
import { runEval } from './eval.js';
import { runGenerate } from './generate.js';
import { runInspect } from './inspect.js';
import { runFinetune } from './finetune.js';
import { runImportance } from './importance.js';
import { runEmulator, runTune, runPlugin } from './offsite.js';
import { parseArgs, intFlag } from './args.js';
import { buildData, defaultDataDir, ensureData } from '../data/build.js';
import { pretrain, readPretrainConfig } from '../train/pretrain.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const USAGE = `usage: scaleot <command> [options]

commands:
  demo                                   the reduced experiment on the shipped base model: ScaleOT, ScaleOT w/o SRC,
                                         OT and CRaSh on SOTU perplexity and WordNet definitions (≤ 15 min on
                                         2 cores); prints the table and writes runs/experiments/demo/report.html
  experiment --config FILE [--resume]    every method × task × setting of a configuration (configs/experiment-*.json),
                                         stages cached by content hash under runs/cache; writes results.json and
                                         report.html (--out DIR, --cache DIR)
  demo --core [--steps N]                train a small byte-level GPT-2 with the native core (default 1000 steps)
  inspect DIR [--json]                   architecture, parameters, blocks, dtypes, tokenizer, context of a checkpoint
  generate --model DIR --prompt TEXT     continue a prompt (--max-new-tokens N, --temperature T, --top-k K,
                                         --top-p P, --seed S, --json)
  eval --model DIR --task NAME_OR_FILE   score built-in tasks (sotu, wordnet-def, wordnet-cloze, next-sentence)
                                         or task files (--task repeatable; --split test|validation|train,
                                         --limit N, --batch N, --context N, --json); --ppl FILE scores one document
  data [--dir DIR] [--rebuild]           build (or verify) the offline datasets
  pretrain --config FILE [--out DIR]     pre-train a base model from scratch (--resume continues a run,
                                         --stop-after N saves and stops, to train in pieces)
  importance --model DIR --out DIR       Dynamic LayerReplace: block importance scores and harmonizers
                                         (--steps, --eta, --rank, --batch, --seq-len, --resume)
  emulator --model DIR --importance DIR --out PKG   build an emulator package (--adapters N_a --alpha α
                                         --beta β --target attn|ffn|all --no-src)
  tune --emulator PKG --task NAME --out DIR   offsite tuning of the adapter blocks (--method full|lora|adapter)
  plugin --model DIR --adapter DIR --out DIR  validate an adapter package and write the plugged-in model
  finetune --model DIR --task NAME --out DIR   full fine-tuning (all blocks, trunk frozen) over a learning-rate
                                         grid (--lrs), best on validation, scored on test; resumable
  report RESULTS_JSON [--out FILE]       re-render report.html from an experiment's results.json
  check-report REPORT                    open a report.html in headless Chromium: tables and charts rendered,
                                         no console error, no network request (exit 1 otherwise)
  help                                   this text

A model DIR is a Hugging Face checkpoint directory (config.json, model.safetensors or a
sharded index, tokenizer files). Nothing is downloaded.
`;

function main(argv: string[]): void {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo': {
      const args = parseArgs('demo', rest, { values: ['--steps'], switches: ['--core'] });
      if (args.switches.has('--core')) runDemo({ steps: intFlag(args, '--steps', 1000), root });
      // The demo is the reduced experiment; a rerun reuses (and an interrupted one resumes) its stages.
      else runExperimentCommand(['--config', join(root, 'configs', 'experiment-demo.json'), '--resume'], root);
      return;
    }
    case 'experiment':
      return runExperimentCommand(rest, root);
    case 'report': {
      // Re-renders report.html (and prints the table) from a results.json, e.g. after an upgrade.
      const args = parseArgs('report', rest, { values: ['--out'], positional: ['RESULTS_JSON'] });
      const file = args.positional[0];
      if (!existsSync(file)) throw new Error(`report: ${file}: no such file`);
      const r = JSON.parse(readFileSync(file, 'utf8')) as ExperimentResults;
      if (r.format !== RESULTS_FORMAT) throw new Error(`report: ${file}: field "format" is ${JSON.stringify(r.format)}, expected "${RESULTS_FORMAT}"`);
      const out = args.values.get('--out') ?? join(dirname(file), 'report.html');
      writeFileAtomic(out, renderReport(r));
      console.log(table1Text(buildTable1(r)));
      console.log(`report: ${out}`);
      return;
    }
    case 'check-report': {
      const args = parseArgs('check-report', rest, { positional: ['REPORT'] });
      const chromium = findChromium();
      if (!chromium) throw new Error('check-report: no Chromium found (install Debian\'s "chromium" or set SCALEOT_CHROMIUM)');
      checkReportInBrowser(args.positional[0], chromium).then((page) => {
        const problems = [
          ...page.consoleErrors.map((e) => `console error: ${e}`),
          ...page.exceptions.map((e) => `exception: ${e}`),
          ...page.requests.map((u) => `network request: ${u}`),
          ...page.tables.filter((t) => t.rows === 0 || t.width === 0).map((t) => `table "${t.className}" is empty or not rendered`),
          ...page.charts.filter((c) => c.width === 0 || c.height === 0 || c.marks < 2).map((c) => `chart "${c.id}" is empty or not rendered`),
        ];
        if (page.tables.length === 0 || page.charts.length === 0) problems.push('no table or no chart rendered');
        console.log(`${args.positional[0]}: ${page.tables.length} tables (${page.tables.map((t) => `${t.className}: ${t.rows} rows`).join(', ')}), ${page.charts.length} charts (${page.charts.map((c) => c.id).join(', ')}); ${page.consoleErrors.length} console errors, ${page.requests.length} network requests`);
        if (problems.length) {
          process.stderr.write(`scaleot: check-report: ${problems.join('; ')}\n`);
          process.exitCode = 1;
        }
      }, (e: Error) => {
        process.stderr.write(`scaleot: check-report: ${e.message}\n`);
        process.exitCode = 1;
      });
      return;
    }
    case 'inspect':
      return runInspect(rest);
    case 'generate':
      return runGenerate(rest);
    case 'eval':
      return runEval(rest);
    case 'finetune':
      return runFinetune(rest);
    case 'importance':
      return runImportance(rest);
    case 'emulator':
      return runEmulator(rest);
    case 'tune':
      return runTune(rest);
    case 'plugin':
      return runPlugin(rest);
    case 'pretrain': {
      const args = parseArgs('pretrain', rest, { values: ['--config', '--out', '--data-dir', '--stop-after'], switches: ['--resume'] });
      const cfgPath = args.values.get('--config');
      if (!cfgPath) throw new Error('pretrain: --config FILE is required (e.g. configs/base-16.json)');
      const cfg = readPretrainConfig(cfgPath);
      const dataDir = args.values.get('--data-dir') ?? defaultDataDir(root);
      ensureData(dataDir, (s) => process.stderr.write(`data: ${s}\n`));
      const out = args.values.get('--out') ?? join(root, 'models', cfg.name);
      const stopAfter = args.values.has('--stop-after') ? intFlag(args, '--stop-after', 1) : undefined;
      const r = pretrain(cfg, dataDir, out, { resume: args.switches.has('--resume'), stopAfter });
      console.log(JSON.stringify({ out: r.outDir, steps: r.steps, seconds: Math.round(r.seconds), final_train_loss: r.finalTrainLoss, validation_loss: r.validationLoss }));
      return;
    }
    case 'data': {
      const args = parseArgs('data', rest, { values: ['--dir'], switches: ['--rebuild', '--json'] });
      const dir = args.values.get('--dir') ?? defaultDataDir(root);
      const log = (s: string) => process.stderr.write(`data: ${s}\n`);
      const built = args.switches.has('--rebuild') ? buildData(dir, log) : ensureData(dir, log);
      if (args.switches.has('--json')) console.log(JSON.stringify(built.manifest));
      else for (const [f, m] of Object.entries(built.manifest.files)) console.log(`${join(dir, f)}  ${m.records} records  ${m.bytes} bytes  sha256 ${m.sha256.slice(0, 16)}`);
      return;
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return;
    default:
      throw new Error(`unknown command "${command}"\n${USAGE}`);
  }
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`scaleot: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
}
