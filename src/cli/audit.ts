// scaleot audit --model DIR --emulator PKG --task NAME ... [--public heldout|other|FILE ...]
//               [--budgets 0.01,0.03,0.1] [--pretrain-tokens N] [--init fresh,nearest]
//               [--lrs ...] [--steps N] [--batch N] [--attack-lr X] --out DIR
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runAudit, type AuditTask } from '../audit/audit.js';
import type { RebuildInit } from '../audit/attacker.js';
import { loadTask, BUILTIN_TASKS } from '../data/tasks.js';
import { guardedSplits } from '../data/split_guard.js';
import { auditCorpus, defaultCorpusLocations, pretrainingTexts } from '../data/corpus.js';
import { DEFAULT_BUDGET } from '../train/finetune.js';
import { FlagSpec, parseArgs, required, intFlag, numberFlag, UsageError } from './args.js';
import { builtData, parseLrs, root, stderrLog } from './common.js';

export const AUDIT_FLAGS: FlagSpec = {
  summary: 'Privacy audit of an emulator package: what its holder can get out of it (disclosure, zero-shot stand-in, tuning everything, rebuilding the withheld blocks on public text).',
  values: ['--model', '--emulator', '--budgets', '--pretrain-tokens', '--init', '--lrs', '--steps', '--batch', '--attack-lr', '--attack-batch', '--eval-limit', '--owner-text', '--out', '--data-dir'],
  repeated: ['--task', '--public'],
  switches: ['--json'],
  help: {
    '--model': "the model owner's model (disclosure and reference rows only; the attacks use the package alone) (required)",
    '--emulator': 'the emulator package to audit (required)',
    '--task': `a built-in task the owner cares about (${BUILTIN_TASKS.join(', ')}); repeatable (required)`,
    '--public': "the attacker's public text: heldout (unseen text of the pre-training distribution), other (a different English source: the King James Bible), or a .jsonl of {\"text\"}; repeatable (default heldout and other)",
    '--budgets': "attack budgets as fractions of the model's pre-training tokens, nested (default 0.01,0.03,0.1)",
    '--pretrain-tokens': "the model's pre-training tokens (default: pretraining.json in the model directory)",
    '--init': 'how rebuilt blocks start: fresh (the architecture\'s init), nearest (a copy of the nearest shipped block), or both (default fresh,nearest)',
    '--lrs': `tuning-everything learning rates, selected on validation (default the paper's grid ${DEFAULT_BUDGET.lrs.join(',')})`,
    '--steps': `tuning-everything steps (default ${DEFAULT_BUDGET.steps})`,
    '--batch': `tuning-everything batch (default ${DEFAULT_BUDGET.batchSize})`,
    '--attack-lr': "the attacker's learning rate on public text (default 1e-3)",
    '--attack-batch': "the attacker's batch of windows (default 16)",
    '--eval-limit': 'validation items / documents per task scored after each attack budget (default 300)',
    '--owner-text': "the model owner's validation text, jsonl of {\"text\"} (default the D^V of the model's own pre-training corpus)",
    '--out': 'the output directory: audit.json, and work/ for resumable state (required)',
    '--data-dir': 'where the built datasets live',
    '--json': 'print audit.json on stdout',
  },
};

/** The model's pre-training tokens, from --pretrain-tokens or the model directory's pretraining.json. */
function pretrainTokens(flag: string | undefined, modelDir: string): number {
  if (flag !== undefined) {
    const n = Number(flag);
    if (!(Number.isInteger(n) && n > 0)) throw new UsageError(`audit: --pretrain-tokens must be a positive integer, got ${JSON.stringify(flag)}`);
    return n;
  }
  const path = join(modelDir, 'pretraining.json');
  if (!existsSync(path)) throw new UsageError(`audit: ${path} does not exist; give --pretrain-tokens N (the tokens the model was pre-trained on)`);
  const tokens = (JSON.parse(readFileSync(path, 'utf8')) as { tokens?: unknown }).tokens;
  if (!(typeof tokens === 'number' && tokens > 0)) throw new UsageError(`audit: ${path}: field "tokens" must be a positive number`);
  return tokens;
}

export function runAuditCommand(argv: string[]): void {
  const args = parseArgs('audit', argv, AUDIT_FLAGS);
  const modelDir = required(args, '--model', 'audit');
  const pkg = required(args, '--emulator', 'audit');
  const out = required(args, '--out', 'audit');
  const names = args.repeated.get('--task') ?? [];
  if (names.length === 0) throw new UsageError(`audit: give at least one --task (${BUILTIN_TASKS.join(', ')})`);
  for (const n of names) if (!BUILTIN_TASKS.includes(n)) throw new UsageError(`audit: unknown task "${n}" (expected one of ${BUILTIN_TASKS.join(', ')})`);
  const budgets = (args.values.get('--budgets') ?? '0.01,0.03,0.1').split(',').map(Number);
  if (budgets.some((b) => !(b > 0 && b <= 10))) throw new UsageError('audit: --budgets must be fractions in (0, 10], e.g. 0.01,0.03,0.1');
  const inits = (args.values.get('--init') ?? 'fresh,nearest').split(',');
  if (inits.some((i) => i !== 'fresh' && i !== 'nearest')) throw new UsageError('audit: --init must list fresh and/or nearest');
  const data = builtData(args);
  const tasks: AuditTask[] = names.map((name) => ({ name, splits: guardedSplits(name, (s) => loadTask(name, s, data.dir)) }));
  const needsCorpus = (args.repeated.get('--public') ?? ['heldout', 'other']).some((p) => p === 'heldout' || p === 'other');
  const corpus = needsCorpus ? auditCorpus(modelDir, defaultCorpusLocations(root), data, stderrLog('corpus: ')) : '';
  const publicText = (args.repeated.get('--public') ?? ['heldout', 'other']).map((p) => {
    if (p === 'heldout' || p === 'other') return { name: p, path: join(corpus, `${p}.jsonl`) };
    if (!existsSync(p)) throw new UsageError(`audit: --public ${p}: no such file (or use heldout / other)`);
    return { name: basename(p).replace(/\.jsonl$/, ''), path: p };
  });
  const r = runAudit({
    modelDir, pkg, tasks, publicText, budgets, inits: inits as RebuildInit[],
    ownerText: args.values.get('--owner-text') ?? pretrainingTexts(modelDir, defaultCorpusLocations(root), data, stderrLog('corpus: ')).dv.path,
    pretrainTokens: pretrainTokens(args.values.get('--pretrain-tokens'), modelDir),
    tune: { lrs: parseLrs(args.values.get('--lrs'), 'audit'), steps: intFlag(args, '--steps', DEFAULT_BUDGET.steps), batchSize: intFlag(args, '--batch', DEFAULT_BUDGET.batchSize), seed: 0 },
    attack: { lr: numberFlag(args, '--attack-lr', 1e-3, 1e-8, 1), batchSize: intFlag(args, '--attack-batch', 16), seqLen: 256, seed: 0 },
    attackEvalLimit: intFlag(args, '--eval-limit', 300), ownerWindows: 64,
    outDir: out, log: stderrLog(),
  });
  if (args.switches.has('--json')) console.log(JSON.stringify(r));
  else {
    const d = r.disclosure!;
    console.log(`${pkg}: ${(100 * d.verbatimFraction).toFixed(1)}% of the model's parameters shipped verbatim${d.energyShipped === null ? '' : `, ${(100 * d.energyShipped).toFixed(1)}% of the SRC targets' spectral energy`}`);
    for (const [t, z] of Object.entries(r.zeroShot ?? {})) console.log(`${t}: ZS ${z.zs.test.value.toFixed(4)}, Emu ZS ${z.emuZS.test.value.toFixed(4)}, tuning everything ${r.tuneEverything?.[t]?.test.value.toFixed(4) ?? '—'}, the model tuned everywhere ${r.modelTuneEverything?.[t]?.test.value.toFixed(4) ?? '—'} (test)`);
    for (const run of r.recovery ?? []) console.log(`recovery ${run.source} ${run.init}: ${run.points.map((p) => `${p.tokens} tokens: owner loss ${p.scores.owner_text_loss.toFixed(3)}`).join('; ')}`);
    console.log(`${join(out, 'audit.json')}`);
  }
}
