// The table of `scaleot` commands: each with its flags (for parsing and --help) and its
// function. main.ts dispatches on it; tests read it to check every command's --help.
import type { FlagSpec } from './args.js';
import { DEMO_FLAGS, runDemoCommand } from './demo.js';
import { EXPERIMENT_FLAGS, runExperimentCommand } from './experiment.js';
import { REPORT_FLAGS, CHECK_REPORT_FLAGS, runReport, runCheckReport } from './report.js';
import { EVAL_FLAGS, runEval } from './eval.js';
import { GENERATE_FLAGS, runGenerate } from './generate.js';
import { INSPECT_FLAGS, runInspect } from './inspect.js';
import { FINETUNE_FLAGS, runFinetune } from './finetune.js';
import { IMPORTANCE_FLAGS, runImportance } from './importance.js';
import { EMULATOR_FLAGS, TUNE_FLAGS, PLUGIN_FLAGS, runEmulator, runTune, runPlugin } from './offsite.js';
import { DATA_FLAGS, PRETRAIN_FLAGS, runData, runPretrain } from './pretrain.js';
import { AUDIT_FLAGS, runAuditCommand } from './audit.js';
import { ADMIN_FLAGS, runAdmin } from './admin.js';
import { SERVE_FLAGS, WORKER_FLAGS, runServe, runWorker } from './serve.js';
import { CLIENT_FLAGS, runClient } from './client.js';

interface Command {
  flags: FlagSpec;
  run: (argv: string[]) => void;
}

/** Every command, in the order `scaleot help` lists them. */
export const COMMANDS: Record<string, Command> = {
  demo: { flags: DEMO_FLAGS, run: runDemoCommand },
  experiment: { flags: EXPERIMENT_FLAGS, run: runExperimentCommand },
  report: { flags: REPORT_FLAGS, run: runReport },
  'check-report': { flags: CHECK_REPORT_FLAGS, run: runCheckReport },
  inspect: { flags: INSPECT_FLAGS, run: runInspect },
  generate: { flags: GENERATE_FLAGS, run: runGenerate },
  eval: { flags: EVAL_FLAGS, run: runEval },
  data: { flags: DATA_FLAGS, run: runData },
  pretrain: { flags: PRETRAIN_FLAGS, run: runPretrain },
  finetune: { flags: FINETUNE_FLAGS, run: runFinetune },
  importance: { flags: IMPORTANCE_FLAGS, run: runImportance },
  emulator: { flags: EMULATOR_FLAGS, run: runEmulator },
  tune: { flags: TUNE_FLAGS, run: runTune },
  plugin: { flags: PLUGIN_FLAGS, run: runPlugin },
  audit: { flags: AUDIT_FLAGS, run: runAuditCommand },
  admin: { flags: ADMIN_FLAGS, run: runAdmin },
  serve: { flags: SERVE_FLAGS, run: runServe },
  worker: { flags: WORKER_FLAGS, run: runWorker },
  client: { flags: CLIENT_FLAGS, run: runClient },
};

