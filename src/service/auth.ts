// Secrets of the service: the admin token (made at first start, printed once) and the data
// owners' API keys. Only salted scrypt hashes are stored; a key is `sok_<key id>_<secret>`,
// so a lookup finds the row by its public id and the secret is compared in constant time.
// Nothing here logs a key.
import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { now, type ServiceDb } from './db.js';

const KEY_PREFIX = 'sok_';

function hashSecret(secret: string, salt: string): string {
  return scryptSync(secret, Buffer.from(salt, 'hex'), 32).toString('hex');
}

function matches(secret: string, salt: string, hash: string): boolean {
  const got = Buffer.from(hashSecret(secret, salt), 'hex'), want = Buffer.from(hash, 'hex');
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Makes the admin token if there is none yet; returns it then (once), else null. */
export function ensureAdminToken(db: ServiceDb): string | null {
  const have = db.prepare("SELECT value FROM meta WHERE key = 'admin_hash'").get();
  if (have) return null;
  const token = `soa_${randomBytes(24).toString('base64url')}`;
  const salt = randomBytes(16).toString('hex');
  db.transaction(() => {
    db.prepare("INSERT INTO meta (key, value) VALUES ('admin_salt', ?)").run(salt);
    db.prepare("INSERT INTO meta (key, value) VALUES ('admin_hash', ?)").run(hashSecret(token, salt));
  })();
  return token;
}

export function checkAdminToken(db: ServiceDb, token: string | undefined): boolean {
  if (!token) return false;
  const salt = db.prepare("SELECT value FROM meta WHERE key = 'admin_salt'").get() as { value: string } | undefined;
  const hash = db.prepare("SELECT value FROM meta WHERE key = 'admin_hash'").get() as { value: string } | undefined;
  return !!salt && !!hash && matches(token, salt.value, hash.value);
}

/** A new API key for an owner: returned once, stored as a salted hash. */
export function issueKey(db: ServiceDb, ownerId: number): { key: string; keyId: string } {
  const keyId = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  db.prepare('INSERT INTO api_keys (owner_id, key_id, salt, hash, created) VALUES (?, ?, ?, ?, ?)').run(ownerId, keyId, salt, hashSecret(secret, salt), now());
  return { key: `${KEY_PREFIX}${keyId}_${secret}`, keyId };
}

/** The owner a key belongs to, or null (unknown, malformed or revoked). */
export function ownerOfKey(db: ServiceDb, key: string | undefined): { ownerId: number; keyId: string } | null {
  const m = /^sok_([0-9a-f]{12})_([A-Za-z0-9_-]{20,64})$/.exec(key ?? '');
  if (!m) return null;
  const row = db.prepare('SELECT owner_id, salt, hash, revoked FROM api_keys WHERE key_id = ?').get(m[1]) as { owner_id: number; salt: string; hash: string; revoked: string | null } | undefined;
  if (!row || row.revoked) return null;
  return matches(m[2], row.salt, row.hash) ? { ownerId: row.owner_id, keyId: m[1] } : null;
}

/** Revokes a key by its public id (the part after sok_) or by the whole key. */
export function revokeKey(db: ServiceDb, keyOrId: string): boolean {
  const id = /^sok_([0-9a-f]{12})_/.exec(keyOrId)?.[1] ?? keyOrId;
  return db.prepare('UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL').run(now(), id).changes === 1;
}
