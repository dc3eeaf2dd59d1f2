// `scaleot experiment --config FILE [--resume] [--out DIR] [--cache DIR]`: runs every
// method × task × setting of the configuration (stages cached by content hash), writes
// results.json and report.html (each to a temporary name, then renamed), and prints the
// Table 1 layout, the conditions and the report's path.
import { isAbsolute, relative, resolve } from 'node:path';
import { readExperimentConfig, ExperimentConfig } from '../experiment/config.js';
import { runExperiment } from '../experiment/runner.js';
import { ExperimentResults, writeExperimentOutputs } from '../experiment/results.js';
import { buildTable1, table1Text } from '../experiment/tables.js';
import { FlagSpec, parseArgs, required } from './args.js';
import { root, stderrLog } from './common.js';
import { progressLine } from './progress.js';

export const EXPERIMENT_FLAGS: FlagSpec = {
  summary: 'Every method × task × setting of a configuration (configs/experiment-*.json), stages cached by content hash; writes results.json and report.html.',
  values: ['--config', '--out', '--cache', '--data-dir'],
  switches: ['--resume'],
  help: {
    '--config': 'the experiment configuration (JSON; required)',
    '--out': 'where results.json and report.html go (default runs/experiments/<name>)',
    '--cache': 'the stage cache (default runs/cache)',
    '--data-dir': 'where the built datasets live',
    '--resume': 'continue interrupted stages from their checkpoints instead of restarting them',
  },
};

export function printSummary(r: ExperimentResults, paths: { results: string; report: string }): void {
  console.log(`\n${r.name}: methods × tasks (test split)\n`);
  console.log(table1Text(buildTable1(r)));
  console.log('\nconditions:');
  for (const c of r.conditions) console.log(`  ${c.held ? 'held  ' : 'MISSED'} ${c.required ? '[required] ' : ''}${c.method} on ${c.task}: ${c.condition} — ${c.detail}`);
  console.log(`\n${r.stages.computed} stages computed, ${r.stages.cached} reused; ${r.seconds} s`);
  console.log(`results: ${paths.results}`);
  console.log(`report:  ${paths.report}`);
}

export function runExperimentCommand(argv: string[]): void {
  const args = parseArgs('experiment', argv, EXPERIMENT_FLAGS);
  const file = required(args, '--config', 'experiment');
  const cfg: ExperimentConfig = readExperimentConfig(file);
  if (args.values.has('--out')) cfg.outDir = resolve(args.values.get('--out')!);
  if (args.values.has('--cache')) cfg.cacheDir = resolve(args.values.get('--cache')!);
  const r = runExperiment(cfg, {
    root, resume: args.switches.has('--resume'), dataDir: args.values.get('--data-dir'),
    command: ['scaleot', 'experiment', ...argv.map((a) => (isAbsolute(a) ? relative(root, a) : a))].join(' '),
    log: stderrLog(), progress: progressLine('experiment stages'),
  });
  printSummary(r, writeExperimentOutputs(r, cfg.outDir));
}
