// The service's state in SQLite (better-sqlite3; Node 20 has no built-in SQLite): models,
// data owners and their API keys (salted hashes only), offers, adapters and the job queue.
// WAL journaling with synchronous=FULL, so a killed process loses no committed row and a
// reader never sees a half-written one; every multi-row change is one transaction. The
// schema is versioned in `meta` and created on first open.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, dir TEXT NOT NULL, fingerprint TEXT NOT NULL, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS owners (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES owners(id), key_id TEXT NOT NULL UNIQUE,
  salt TEXT NOT NULL, hash TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT);
CREATE TABLE IF NOT EXISTS offers (
  id TEXT PRIMARY KEY, owner_id INTEGER NOT NULL REFERENCES owners(id), model_id INTEGER NOT NULL REFERENCES models(id),
  method TEXT NOT NULL, settings TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('building', 'ready', 'failed')),
  package TEXT, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS adapters (
  id TEXT PRIMARY KEY, offer_id TEXT NOT NULL REFERENCES offers(id), owner_id INTEGER REFERENCES owners(id),
  package TEXT NOT NULL, examples INTEGER, aggregated_from TEXT, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner_id INTEGER REFERENCES owners(id), payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')), result TEXT, error TEXT,
  attempts INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL, started TEXT, finished TEXT);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created);
`;

export type ServiceDb = Database.Database;

/** Opens (creating if need be) the service database in `dataDir`. */
export function openDb(dataDir: string): ServiceDb {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'service.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000'); // the HTTP process and the worker share the file
  db.exec(SCHEMA);
  const v = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema_version') as { value: string } | undefined;
  if (!v) db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
  else if (Number(v.value) !== SCHEMA_VERSION) throw new Error(`${join(dataDir, 'service.sqlite')}: schema version ${v.value}, this scaleot expects ${SCHEMA_VERSION}`);
  return db;
}

export const now = (): string => new Date().toISOString();
