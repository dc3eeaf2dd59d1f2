// Secrets of the service: the admin token (made at first start, printed once) and the data
// owners' API keys. Only salted scrypt hashes are stored; a key is `sok_<key id>_<secret>`,
// so a lookup finds the row by its public id and the secret is compared in constant time.
// Nothing here logs a key.
import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual } from 'node:crypto';
import { now, type ServiceDb } from './db.js';

const KEY_PREFIX = 'sok_';

function hashSecret(secret: string, salt: string): string {
  return scryptSync(secret, Buffer.from(salt, 'hex'), 32).toString('hex');
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


/** A new API key for an owner: returned once, stored as a salted hash. */
export function issueKey(db: ServiceDb, ownerId: number): { key: string; keyId: string } {
  const keyId = randomBytes(6).toString('hex');
  const secret = randomBytes(24).toString('base64url');
  const salt = randomBytes(16).toString('hex');
  db.prepare('INSERT INTO api_keys (owner_id, key_id, salt, hash, created) VALUES (?, ?, ?, ?, ?)').run(ownerId, keyId, salt, hashSecret(secret, salt), now());
  return { key: `${KEY_PREFIX}${keyId}_${secret}`, keyId };
}


/** Revokes a key by its public id (the part after sok_) or by the whole key. */
export function revokeKey(db: ServiceDb, keyOrId: string): boolean {
  const id = /^sok_([0-9a-f]{12})_/.exec(keyOrId)?.[1] ?? keyOrId;
  return db.prepare('UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL').run(now(), id).changes === 1;
}

/** How many verified secrets a server remembers (least recently used dropped first). */
const VERIFIED_CAPACITY = 4096;

/**
 * Key and token checks for a long-running server. scrypt is slow on purpose (tens of ms);
 * run synchronously per request it held up the event loop for every other caller (the
 * load bench measured p95 0.53 s for GET /v1/offers on quiet cores with 25 clients). So the
 * first check of a secret runs scrypt on libuv's thread pool, and a secret that verified
 * is remembered, in memory only, as sha256(salt, stored hash, secret): later requests cost
 * one sha256 and a constant-time compare. The database row is read on every request, so a
 * key revoked by `scaleot admin` in another process stops working at once, and a row whose
 * salt or hash changed no longer matches what was remembered.
 */
export class SecretVerifier {
  private readonly verified = new Map<string, Buffer>();

  constructor(private readonly db: ServiceDb) {}

  /** The owner a key belongs to, or null (unknown, malformed or revoked). */
  async owner(key: string | undefined): Promise<{ ownerId: number; keyId: string } | null> {
    const m = /^sok_([0-9a-f]{12})_([A-Za-z0-9_-]{20,64})$/.exec(key ?? '');
    if (!m) return null;
    const row = this.db.prepare('SELECT owner_id, salt, hash, revoked FROM api_keys WHERE key_id = ?').get(m[1]) as { owner_id: number; salt: string; hash: string; revoked: string | null } | undefined;
    if (!row || row.revoked) return null;
    return (await this.check(`key:${m[1]}`, m[2], row.salt, row.hash)) ? { ownerId: row.owner_id, keyId: m[1] } : null;
  }

  /** Whether `token` is the admin token. */
  async admin(token: string | undefined): Promise<boolean> {
    if (!token) return false;
    const salt = this.db.prepare("SELECT value FROM meta WHERE key = 'admin_salt'").get() as { value: string } | undefined;
    const hash = this.db.prepare("SELECT value FROM meta WHERE key = 'admin_hash'").get() as { value: string } | undefined;
    return !!salt && !!hash && this.check('admin', token, salt.value, hash.value);
  }

  private async check(slot: string, secret: string, salt: string, hash: string): Promise<boolean> {
    const fingerprint = createHash('sha256').update(salt).update('\0').update(hash).update('\0').update(secret).digest();
    const known = this.verified.get(slot);
    if (known && timingSafeEqual(known, fingerprint)) {
      this.verified.delete(slot); // re-insert: the Map's order is the recency order
      this.verified.set(slot, known);
      return true;
    }
    const got = await new Promise<Buffer>((resolve, reject) => scrypt(secret, Buffer.from(salt, 'hex'), 32, (e, k) => (e ? reject(e) : resolve(k))));
    const want = Buffer.from(hash, 'hex');
    if (got.length !== want.length || !timingSafeEqual(got, want)) return false;
    this.verified.set(slot, fingerprint);
    if (this.verified.size > VERIFIED_CAPACITY) this.verified.delete(this.verified.keys().next().value as string);
    return true;
  }
}
