// The service's content-addressed store: every file lives under DIR/store/<sha256>, written
// to a temporary name and renamed, so a reader sees a whole file or none. A package (an
// emulator or an adapter) is a small JSON index {files: {name: sha256}} stored the same way;
// its digest is the package's id. Names and paths from requests never reach the file
// system: only digests do, and file names inside an index are checked to be plain names.
import { randomBytes } from 'node:crypto';
import { sha256File } from '../io/hash.js';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PackageIndex {
  files: Record<string, string>;
}

const DIGEST = /^[0-9a-f]{64}$/;
/** A plain file name: no directories, no dot-files, nothing a shell or a path would read twice. */
export const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export class Store {
  readonly root: string;
  private readonly tmp: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'store');
    this.tmp = join(dataDir, 'tmp');
    mkdirSync(this.root, { recursive: true });
    mkdirSync(this.tmp, { recursive: true });
  }

  /** The path of a stored file; throws for anything but a digest that is present. */
  path(digest: string): string {
    if (!DIGEST.test(digest)) throw new Error(`store: "${digest}" is not a sha256 digest`);
    const p = join(this.root, digest);
    if (!existsSync(p)) throw new Error(`store: no file ${digest}`);
    return p;
  }

  has(digest: string): boolean {
    return DIGEST.test(digest) && existsSync(join(this.root, digest));
  }

  /** A fresh temporary path inside the store's volume (for uploads; renamed in by adopt()). */
  temporary(): string {
    return join(this.tmp, `${Date.now()}-${randomBytes(8).toString('hex')}`);
  }

  /**
   * Moves a fully written temporary file into the store under its sha256; returns the
   * digest. `hashed`: the digest the writer computed while streaming the bytes in (the
   * upload path), so the file is not read a second time on the server's event loop.
   */
  adopt(tmpPath: string, expected?: string, hashed?: string): string {
    const digest = hashed ?? sha256File(tmpPath);
    if (expected !== undefined && digest !== expected) {
      rmSync(tmpPath, { force: true });
      throw new Error(`sha256 mismatch: the bytes hash to ${digest}, expected ${expected}`);
    }
    const target = join(this.root, digest);
    if (existsSync(target)) rmSync(tmpPath, { force: true });
    else renameSync(tmpPath, target);
    return digest;
  }

  putBytes(bytes: Uint8Array): string {
    const t = this.temporary();
    writeFileSync(t, bytes);
    return this.adopt(t);
  }

  /** Stores every listed file of a directory and the index; returns the package digest. */
  putPackage(dir: string, names: string[]): string {
    const files: Record<string, string> = {};
    for (const name of [...names].sort()) {
      if (!SAFE_NAME.test(name)) throw new Error(`store: "${name}" is not a plain file name`);
      const t = this.temporary();
      copyFileSync(join(dir, name), t);
      files[name] = this.adopt(t);
    }
    return this.putBytes(Buffer.from(JSON.stringify({ files })));
  }

  index(pkg: string): PackageIndex {
    const idx = JSON.parse(readFileSync(this.path(pkg), 'utf8')) as PackageIndex;
    for (const [name, d] of Object.entries(idx.files ?? {})) {
      if (!SAFE_NAME.test(name) || !DIGEST.test(d)) throw new Error(`store: package ${pkg} lists a bad entry ${JSON.stringify(name)}`);
    }
    return idx;
  }

  /**
   * The package as a directory the loaders can read (hard links into the store, so no
   * copy), made once under DIR/packages/<digest> by rename.
   */
  materialize(pkg: string): string {
    const out = join(this.root, '..', 'packages', pkg);
    if (existsSync(out)) return out;
    const idx = this.index(pkg);
    const t = this.temporary();
    mkdirSync(t, { recursive: true });
    for (const [name, d] of Object.entries(idx.files)) {
      try {
        linkSync(this.path(d), join(t, name));
      } catch {
        copyFileSync(this.path(d), join(t, name));
      }
    }
    mkdirSync(join(this.root, '..', 'packages'), { recursive: true });
    try {
      renameSync(t, out);
    } catch (e) {
      rmSync(t, { recursive: true, force: true });
      if (!existsSync(out)) throw e;
    }
    return out;
  }

  /** A copy of a stored file at `dest` (a scratch directory the service made). */
  putFileCopy(digest: string, dest: string): void {
    copyFileSync(this.path(digest), dest);
  }

  /** Removes temporaries left by a killed process (call at start, before serving). */
  sweep(): number {
    const left = readdirSync(this.tmp);
    for (const f of left) rmSync(join(this.tmp, f), { recursive: true, force: true });
    return left.length;
  }

  size(digest: string): number {
    return statSync(this.path(digest)).size;
  }
}
