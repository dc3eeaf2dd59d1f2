// The model owner's service state and operations, shared by `scaleot admin` (directly on the
// database) and the HTTP API (with the admin token): models, data owners and keys, offers,
// adapters, and the persistent job queue the worker process runs. Ids given to data owners
// are random (offers, adapters, jobs), so they reveal nothing about other owners.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadModel } from '../models/load.js';
import { modelFingerprint } from '../offsite/fingerprint.js';
import { getMethod } from '../offsite/methods.js';
import { DEFAULT_EMULATOR, type EmulatorSettings } from '../offsite/emulator.js';
import { openDb, now, type ServiceDb } from './db.js';
import { issueKey, revokeKey } from './auth.js';
import { Store } from './store.js';

/** A validation set a data owner uploaded: its blob in the store, and how to read it. */
export interface UploadedValidation {
  blob: string;
  format: 'jsonl' | 'text';
}

export class ServiceError extends Error {
  override name = 'ServiceError';
  /** The HTTP status an API answer carries (404 also for another owner's object). */
  constructor(message: string, readonly status = 400) {
    super(message);
  }
}

export type JobKind = 'emulator' | 'plugin' | 'aggregate' | 'generate';
export type JobState = 'queued' | 'running' | 'done' | 'failed';

export interface JobRow {
  id: string;
  kind: JobKind;
  owner_id: number | null;
  payload: string;
  state: JobState;
  result: string | null;
  error: string | null;
  attempts: number;
  created: string;
  started: string | null;
  finished: string | null;
}

const newId = (prefix: string): string => `${prefix}_${randomBytes(9).toString('base64url')}`;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Jobs a killed worker left running are retried this many times in all, then failed. */
export const MAX_ATTEMPTS = 3;

export class Service {
  readonly db: ServiceDb;
  readonly store: Store;

  constructor(readonly dataDir: string) {
    this.db = openDb(dataDir);
    this.store = new Store(dataDir);
  }

  close(): void {
    this.db.close();
  }

  addModel(name: string, dir: string): { model: string; fingerprint: string } {
    if (!NAME.test(name)) throw new ServiceError(`model name "${name}" must be letters, digits, ".", "_" or "-"`);
    if (!existsSync(dir)) throw new ServiceError(`${dir}: no such model directory`);
    const fingerprint = modelFingerprint(loadModel(dir));
    try {
      this.db.prepare('INSERT INTO models (name, dir, fingerprint, created) VALUES (?, ?, ?, ?)').run(name, resolve(dir), fingerprint, now());
    } catch (e) {
      if (/UNIQUE/.test((e as Error).message)) throw new ServiceError(`a model named "${name}" exists already`, 409);
      throw e;
    }
    return { model: name, fingerprint };
  }

  addOwner(name: string): { owner: string; key: string } {
    if (!NAME.test(name)) throw new ServiceError(`owner name "${name}" must be letters, digits, ".", "_" or "-"`);
    return this.db.transaction(() => {
      let id: number;
      try {
        id = Number(this.db.prepare('INSERT INTO owners (name, created) VALUES (?, ?)').run(name, now()).lastInsertRowid);
      } catch (e) {
        if (/UNIQUE/.test((e as Error).message)) throw new ServiceError(`an owner named "${name}" exists already`, 409);
        throw e;
      }
      return { owner: name, key: issueKey(this.db, id).key };
    })();
  }

  revokeKey(keyOrId: string): { revoked: boolean } {
    return { revoked: revokeKey(this.db, keyOrId) };
  }

  private ownerId(name: string): number {
    const row = this.db.prepare('SELECT id FROM owners WHERE name = ?').get(name) as { id: number } | undefined;
    if (!row) throw new ServiceError(`no owner named "${name}"`, 404);
    return row.id;
  }

  /** Offers an emulator of `model` to `owner`: queues its building (importance and emulator stages are reused). */
  offer(model: string, owner: string, method: string, settings: Partial<EmulatorSettings>): { offer: string; job: string } {
    const m = this.db.prepare('SELECT id FROM models WHERE name = ?').get(model) as { id: number } | undefined;
    if (!m) throw new ServiceError(`no model named "${model}"`, 404);
    const ownerId = this.ownerId(owner);
    const full = getMethod(method).settings({ ...DEFAULT_EMULATOR, ...settings }); // an unknown method fails here
    const offer = newId('off');
    return this.db.transaction(() => {
      this.db.prepare('INSERT INTO offers (id, owner_id, model_id, method, settings, state, created) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(offer, ownerId, m.id, method, JSON.stringify(full), 'building', now());
      const job = this.enqueue('emulator', { offer }, ownerId);
      return { offer, job };
    })();
  }

  /** Records an accepted adapter package and queues its plug-in and evaluation. */
  /**
   * Records a pushed adapter and queues its plug-in job, scored on `validation`: a built-in
   * task's name, or the data owner's uploaded validation file.
   */
  addAdapter(offer: string, ownerId: number, pkg: string, examples: number | null, validation?: string | UploadedValidation): { adapter: string; job: string } {
    const adapter = newId('ada');
    const scored = validation === undefined ? {} : typeof validation === 'string' ? { task: validation } : { file: validation };
    return this.db.transaction(() => {
      this.db.prepare('INSERT INTO adapters (id, offer_id, owner_id, package, examples, created) VALUES (?, ?, ?, ?, ?, ?)').run(adapter, offer, ownerId, pkg, examples, now());
      return { adapter, job: this.enqueue('plugin', { adapter, ...scored }, ownerId) };
    })();
  }

  /**
   * Queues the aggregation (FedAvg) of adapters tuned on one emulator: weights 'examples'
   * (the example counts the owners reported) or 'uniform'. The result is the model owner's.
   */
  aggregate(offer: string, adapters: string[], weights: string): { adapter: string; job: string } {
    if (!Array.isArray(adapters) || adapters.length < 1) throw new ServiceError('aggregate: give the adapters to combine');
    if (weights !== 'examples' && weights !== 'uniform') throw new ServiceError('aggregate: weights must be "examples" or "uniform"');
    const o = this.db.prepare('SELECT package FROM offers WHERE id = ?').get(offer) as { package: string | null } | undefined;
    if (!o) throw new ServiceError(`no offer "${offer}"`, 404);
    const rows = adapters.map((id) => this.db.prepare('SELECT id, package, examples FROM adapters a WHERE id = ? AND EXISTS (SELECT 1 FROM offers f WHERE f.id = a.offer_id AND f.package = ?)').get(id, o.package) as { examples: number | null } | undefined);
    rows.forEach((r, k) => {
      if (!r) throw new ServiceError(`adapter "${adapters[k]}" was not tuned on the emulator of offer ${offer}`, 404);
      if (weights === 'examples' && !(r.examples && r.examples > 0)) throw new ServiceError(`adapter "${adapters[k]}" reported no example count; use weights "uniform"`);
    });
    const w = rows.map((r) => (weights === 'uniform' ? 1 : r!.examples!));
    const adapter = newId('ada'); // recorded by the worker when the aggregate exists
    return { adapter, job: this.enqueue('aggregate', { offer, adapters, weights: w, adapter }, null) };
  }

  enqueue(kind: JobKind, payload: Record<string, unknown>, ownerId: number | null): string {
    const id = newId('job');
    this.db.prepare('INSERT INTO jobs (id, kind, owner_id, payload, state, created) VALUES (?, ?, ?, ?, ?, ?)').run(id, kind, ownerId, JSON.stringify(payload), 'queued', now());
    return id;
  }

  /** The oldest queued job, marked running (one transaction: two workers never take the same job). */
  claimJob(): JobRow | null {
    return this.db.transaction(() => {
      // First in, first out: jobs enqueued within one timestamp tick keep their insertion
      // order (rowid); ordering by the random job id made that order a coin toss.
      const job = this.db.prepare("SELECT * FROM jobs WHERE state = 'queued' ORDER BY created, rowid LIMIT 1").get() as JobRow | undefined;
      if (!job) return null;
      this.db.prepare("UPDATE jobs SET state = 'running', started = ?, attempts = attempts + 1 WHERE id = ?").run(now(), job.id);
      return { ...job, state: 'running' as const, attempts: job.attempts + 1 };
    }).immediate();
  }

  finishJob(id: string, result: unknown): void {
    this.db.prepare("UPDATE jobs SET state = 'done', result = ?, finished = ? WHERE id = ?").run(JSON.stringify(result), now(), id);
  }

  failJob(id: string, error: string): void {
    this.db.prepare("UPDATE jobs SET state = 'failed', error = ?, finished = ? WHERE id = ?").run(error, now(), id);
  }

  /**
   * At worker start: jobs a killed worker left running are queued again (their stages resume
   * from checkpoints), or failed once they have been tried MAX_ATTEMPTS times.
   */
  recoverJobs(): { requeued: string[]; failed: string[] } {
    return this.db.transaction(() => {
      const running = this.db.prepare("SELECT id, attempts FROM jobs WHERE state = 'running'").all() as { id: string; attempts: number }[];
      const requeued: string[] = [], failed: string[] = [];
      for (const j of running) {
        if (j.attempts >= MAX_ATTEMPTS) {
          this.failJob(j.id, `interrupted ${j.attempts} times (the worker was stopped while running it)`);
          failed.push(j.id);
        } else {
          this.db.prepare("UPDATE jobs SET state = 'queued' WHERE id = ?").run(j.id);
          requeued.push(j.id);
        }
      }
      return { requeued, failed };
    })();
  }

  /** Everything, for `admin list` and the status page (no secrets). */
  list(): Record<string, unknown[]> {
    const all = (sql: string) => this.db.prepare(sql).all();
    return {
      models: all('SELECT name, fingerprint, created FROM models ORDER BY id'),
      owners: all('SELECT o.name, o.created, (SELECT COUNT(*) FROM api_keys k WHERE k.owner_id = o.id AND k.revoked IS NULL) AS active_keys FROM owners o ORDER BY o.id'),
      keys: all('SELECT k.key_id, o.name AS owner, k.created, k.revoked FROM api_keys k JOIN owners o ON o.id = k.owner_id ORDER BY k.id'),
      offers: all('SELECT f.id, o.name AS owner, m.name AS model, f.method, f.settings, f.state, f.package, f.created FROM offers f JOIN owners o ON o.id = f.owner_id JOIN models m ON m.id = f.model_id ORDER BY f.created, f.rowid'),
      adapters: all('SELECT a.id, a.offer_id AS offer, o.name AS owner, a.package, a.examples, a.aggregated_from, a.created FROM adapters a LEFT JOIN owners o ON o.id = a.owner_id ORDER BY a.created, a.rowid'),
      jobs: all('SELECT id, kind, state, result, error, attempts, created, started, finished FROM jobs ORDER BY created, rowid'),
    };
  }
}
