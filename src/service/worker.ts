// The service's worker: a process of its own (so HTTP requests stay responsive while a job
// trains) that takes queued jobs from SQLite one at a time:
//   emulator   importance + emulator of the offer's method and settings, through the same
//              cached stages as the experiment runner (a stage computed once is reused);
//   plugin     the adapter plugged into the model (merged checkpoint, or attached in
//              process for tuners that cannot merge), evaluated on validation if asked;
//   generate   text from the plugged-in model (the data owner never receives the model);
//   aggregate  FedAvg of several owners' adapters into one (offsite/aggregate.ts).
// On start it requeues the jobs a killed worker left running (their stages resume from
// checkpoints) or fails them after MAX_ATTEMPTS. Every output is written under a temporary
// name and renamed, so a kill leaves no half-written package.
import { existsSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../models/load.js';
import type { CausalLM } from '../models/causal_lm.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { getMethod } from '../offsite/methods.js';
import type { EmulatorSettings } from '../offsite/emulator.js';
import { plugIn, validateAdapter, attachAdapter } from '../offsite/plugin.js';
import { aggregateAdapters } from '../offsite/aggregate.js';
import { getTuner } from '../peft/registry.js';
import { generate } from '../inference/generate.js';
import { ensureData } from '../data/build.js';
import { defaultCorpusLocations, pretrainingTexts, type CorpusLocations } from '../data/corpus.js';
import { packageRoot } from '../util/root.js';
import { loadTask, loadTaskFile, type Task } from '../data/tasks.js';
import { jsonlTokenStream } from '../data/streams.js';
import { scoreTask } from '../train/finetune.js';
import { modelIdentity } from '../io/hash.js';
import { defaultImportanceConfig } from '../offsite/scaleot/importance.js';
import { DEFAULT_DISTILL_LR } from '../offsite/baselines/distill.js';
import { StageCache } from '../experiment/stages.js';
import { emulatorStage, type EmulatorStageEnv } from '../experiment/emulator_stages.js';
import { Service, type JobRow, type UploadedValidation } from './service.js';

export interface WorkerOptions {
  /** The built datasets (D^T / D^V for importance, tasks for evaluation). */
  datasetsDir: string;
  /** Where the larger pre-training corpora are, for models pre-trained on one (default the package's). */
  corpora?: CorpusLocations;
  /** Importance steps (default the method's 400; tests use a few). */
  importanceSteps?: number;
  pollMs?: number;
  /** Stop when the queue is empty (tests, and `scaleot worker --once`). */
  once?: boolean;
  shouldStop?: () => boolean;
  log?: (s: string) => void;
}

export class Worker {
  private readonly log: (s: string) => void;
  private readonly envs = new Map<string, EmulatorStageEnv>();

  constructor(private readonly service: Service, private readonly o: WorkerOptions) {
    this.log = o.log ?? (() => {});
  }

  /**
   * Runs jobs until stopped (or, with `once`, until the queue is empty); returns how many
   * ran. Waits between polls without blocking the event loop. A job runs to its end: a
   * SIGTERM (or SIGKILL) in the middle kills the process, which loses nothing, since every
   * output is renamed into place and the job is requeued at the next start.
   */
  async run(): Promise<number> {
    const { requeued, failed } = this.service.recoverJobs();
    if (requeued.length || failed.length) this.log(`worker: resumed ${requeued.length} interrupted job(s), failed ${failed.length}`);
    this.service.store.sweep();
    // Merged checkpoints a killed worker left half-written (their final names never appear).
    const plugged = join(this.service.dataDir, 'plugged');
    if (existsSync(plugged)) for (const f of readdirSync(plugged)) if (/\.tmp-\d+$/.test(f)) rmSync(join(plugged, f), { recursive: true, force: true });
    let ran = 0;
    while (!this.o.shouldStop?.()) {
      const job = this.service.claimJob();
      if (!job) {
        if (this.o.once) break;
        await new Promise((r) => setTimeout(r, this.o.pollMs ?? 500));
        continue;
      }
      ran++;
      this.log(`worker: ${job.kind} job ${job.id} (attempt ${job.attempts})`);
      try {
        this.service.finishJob(job.id, this.runJob(job));
      } catch (e) {
        this.log(`worker: job ${job.id} failed: ${(e as Error).message}`);
        this.service.failJob(job.id, (e as Error).message);
        if (job.kind === 'emulator') this.service.db.prepare("UPDATE offers SET state = 'failed' WHERE id = ?").run((JSON.parse(job.payload) as { offer: string }).offer);
      }
    }
    return ran;
  }

  private runJob(job: JobRow): unknown {
    const p = JSON.parse(job.payload) as Record<string, unknown>;
    switch (job.kind) {
      case 'emulator':
        return this.buildEmulator(String(p.offer));
      case 'plugin':
        return this.plugin(String(p.adapter), p.task as string | undefined, p.file as UploadedValidation | undefined);
      case 'generate':
        return this.generate(String(p.adapter), String(p.prompt), Number(p.maxTokens));
      case 'aggregate':
        return this.aggregate(String(p.offer), p.adapters as string[], p.weights as number[], String(p.adapter));
    }
  }

  private modelOfOffer(offer: string): { dir: string; method: string; settings: EmulatorSettings; package: string | null } {
    const row = this.service.db.prepare('SELECT m.dir, f.method, f.settings, f.package FROM offers f JOIN models m ON m.id = f.model_id WHERE f.id = ?').get(offer) as { dir: string; method: string; settings: string; package: string | null } | undefined;
    if (!row) throw new Error(`offer ${offer} does not exist`);
    return { dir: row.dir, method: row.method, settings: JSON.parse(row.settings) as EmulatorSettings, package: row.package };
  }

  /** The stage environment of a model (one per model directory, kept while the worker lives). */
  private env(modelDir: string): EmulatorStageEnv {
    const known = this.envs.get(modelDir);
    if (known) return known;
    const data = ensureData(this.o.datasetsDir);
    const texts = pretrainingTexts(modelDir, this.o.corpora ?? defaultCorpusLocations(packageRoot()), data, this.log);
    const tok = TextTokenizer.fromDir(modelDir);
    const model = loadModel(modelDir);
    const importance = { ...defaultImportanceConfig(model.spec.hiddenSize), ...(this.o.importanceSteps ? { steps: this.o.importanceSteps } : {}) };
    importance.seqLen = Math.min(importance.seqLen, model.maxContext);
    const env: EmulatorStageEnv = {
      cache: new StageCache(join(this.service.dataDir, 'cache'), true, this.log), modelDir, modelHash: modelIdentity(modelDir),
      hidden: model.spec.hiddenSize, numBlocks: model.blocks.length, maxContext: model.maxContext,
      pretrainHash: { dt: texts.dt.sha256, dv: texts.dv.sha256 },
      stream: (name) => jsonlTokenStream(tok, texts[name].path, tok.prefixTokenId, 'before'),
      importance, distill: { lr: DEFAULT_DISTILL_LR, batchSize: importance.batchSize, seqLen: importance.seqLen },
      log: this.log, importanceStages: new Map(),
    };
    this.envs.set(modelDir, env);
    return env;
  }

  private buildEmulator(offer: string): { package: string } {
    const o = this.modelOfOffer(offer);
    const stage = emulatorStage(this.env(o.dir), getMethod(o.method), o.settings);
    const dir = join(stage.materialize(), 'package');
    const pkg = this.service.store.putPackage(dir, readdirSync(dir));
    this.service.db.prepare("UPDATE offers SET state = 'ready', package = ? WHERE id = ?").run(pkg, offer);
    return { package: pkg };
  }

  private adapterRow(adapter: string): { offer: string; package: string } {
    const row = this.service.db.prepare('SELECT offer_id AS offer, package FROM adapters WHERE id = ?').get(adapter) as { offer: string; package: string } | undefined;
    if (!row) throw new Error(`adapter ${adapter} does not exist`);
    return row;
  }

  /** The model with the adapter in: a merged checkpoint kept under DIR/plugged, or attached in process. */
  private pluggedModel(adapter: string): { model: CausalLM; modelDir: string } {
    const a = this.adapterRow(adapter);
    const o = this.modelOfOffer(a.offer);
    const adapterDir = this.service.store.materialize(a.package);
    const merged = join(this.service.dataDir, 'plugged', adapter);
    const { manifest, tensors } = validateAdapter(loadModel(o.dir), adapterDir);
    if (!getTuner(manifest.method).merge) {
      const model = loadModel(o.dir);
      attachAdapter(model, manifest, tensors);
      return { model, modelDir: o.dir };
    }
    if (!existsSync(merged)) {
      const tmp = `${merged}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      plugIn(o.dir, adapterDir, tmp);
      renameSync(tmp, merged);
    }
    return { model: loadModel(merged), modelDir: o.dir };
  }

  private plugin(adapter: string, task: string | undefined, file: UploadedValidation | undefined): { adapter: string; evaluation: Record<string, unknown> | null } {
    const { model, modelDir } = this.pluggedModel(adapter);
    if (!task && !file) return { adapter, evaluation: null };
    const tok = TextTokenizer.fromDir(modelDir);
    let validation: Task;
    if (file) {
      const path = `${this.service.store.temporary()}.${file.format === 'jsonl' ? 'jsonl' : 'txt'}`;
      try {
        this.service.store.putFileCopy(file.blob, path);
        validation = loadTaskFile(path);
      } finally {
        rmSync(path, { force: true });
      }
    } else validation = loadTask(task!, 'validation', ensureData(this.o.datasetsDir).dir);
    const limited = validation.kind === 'mc' ? { ...validation, items: validation.items.slice(0, 500) } : validation;
    const source = file ? { file: file.blob } : { task };
    return { adapter, evaluation: { ...source, split: 'validation', plugin: scoreTask(model, tok, limited), zs: scoreTask(loadModel(modelDir), tok, limited) } };
  }

  private generate(adapter: string, prompt: string, maxTokens: number): { text: string } {
    const { model, modelDir } = this.pluggedModel(adapter);
    const tok = TextTokenizer.fromDir(modelDir);
    const ids = tok.encode(prompt).slice(-(model.maxContext - maxTokens));
    return { text: tok.decode(generate(model, ids, { maxNewTokens: maxTokens })) };
  }

  private aggregate(offer: string, adapters: string[], weights: number[], id: string): { adapter: string } {
    const o = this.modelOfOffer(offer);
    if (!o.package) throw new Error(`offer ${offer} has no emulator yet`);
    const dirs = adapters.map((a) => this.service.store.materialize(this.adapterRow(a).package));
    const out = this.service.store.temporary();
    aggregateAdapters(this.service.store.materialize(o.package), dirs, weights, out);
    const pkg = this.service.store.putPackage(out, readdirSync(out));
    rmSync(out, { recursive: true, force: true });
    this.service.db.prepare('INSERT INTO adapters (id, offer_id, owner_id, package, examples, aggregated_from, created) VALUES (?, ?, NULL, ?, NULL, ?, ?)')
      .run(id, offer, pkg, JSON.stringify(adapters.map((a, k) => ({ adapter: a, weight: weights[k] }))), new Date().toISOString());
    return { adapter: id };
  }
}
