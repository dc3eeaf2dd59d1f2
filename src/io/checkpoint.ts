// Hugging Face checkpoint directories: config.json plus model.safetensors, or shards listed
// in model.safetensors.index.json ({"metadata": {...}, "weight_map": {name: file}}).
// Everything loads from the local directory; nothing is ever downloaded.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { join } from 'node:path';
import { SafetensorsError, SafetensorsFile, TensorInfo, TensorToWrite, writeSafetensors } from './safetensors.js';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Reads a JSON file that must hold an object; errors name the file. */
export function readJsonObject(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read (${(e as Error).message})`);
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CheckpointError(`${path}: expected a JSON object`);
  return v as Record<string, unknown>;
}


export class Checkpoint {
  readonly dir: string;
  readonly config: Record<string, unknown>;
  private readonly files: SafetensorsFile[];
  private readonly where: Map<string, SafetensorsFile>;

  private constructor(dir: string, config: Record<string, unknown>, files: SafetensorsFile[], where: Map<string, SafetensorsFile>) {
    this.dir = dir;
    this.config = config;
    this.files = files;
    this.where = where;
  }

  static open(dir: string): Checkpoint {
    if (!existsSync(dir)) throw new CheckpointError(`${dir}: no such checkpoint directory`);
    const config = readJsonObject(join(dir, 'config.json'));
    const single = join(dir, 'model.safetensors');
    const indexPath = join(dir, 'model.safetensors.index.json');
    const files: SafetensorsFile[] = [];
    const where = new Map<string, SafetensorsFile>();
    try {
      if (existsSync(indexPath)) {
        const index = readJsonObject(indexPath);
        const map = index.weight_map;
        if (typeof map !== 'object' || map === null || Array.isArray(map)) {
          throw new CheckpointError(`${indexPath}: "weight_map" must be an object of tensor name -> shard file`);
        }
        const byFile = new Map<string, SafetensorsFile>();
        for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
          if (typeof file !== 'string' || file.includes('/') || file.includes('\\')) {
            throw new CheckpointError(`${indexPath}: weight_map["${name}"] must be a file name in the directory, got ${JSON.stringify(file)}`);
          }
          let st = byFile.get(file);
          if (!st) {
            st = SafetensorsFile.open(join(dir, file));
            byFile.set(file, st);
            files.push(st);
          }
          if (!st.has(name)) throw new CheckpointError(`${indexPath}: "${name}" is mapped to ${file}, which has no such tensor`);
          where.set(name, st);
        }
        for (const st of files) {
          for (const name of st.names()) {
            if (where.get(name) !== st) {
              throw new CheckpointError(`${st.path}: tensor "${name}" is not listed for this shard in ${indexPath}`);
            }
          }
        }
      } else if (existsSync(single)) {
        const st = SafetensorsFile.open(single);
        files.push(st);
        for (const name of st.names()) where.set(name, st);
      } else {
        throw new CheckpointError(`${dir}: no model.safetensors or model.safetensors.index.json (only the safetensors format is supported)`);
      }
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
    return new Checkpoint(dir, config, files, where);
  }

  names(): string[] {
    return [...this.where.keys()];
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  info(name: string): TensorInfo & { file: string } {
    const st = this.where.get(name);
    if (!st) throw new CheckpointError(`${this.dir}: checkpoint has no tensor "${name}"`);
    return { ...st.info(name), file: st.path };
  }

  /** A floating tensor as float32, checked for shape and finite values. */
  read(name: string, expectShape?: readonly number[]): Float32Array {
    const st = this.where.get(name);
    if (!st) throw new CheckpointError(`${this.dir}: checkpoint has no tensor "${name}"`);
    const info = st.info(name);
    if (expectShape && (info.shape.length !== expectShape.length || info.shape.some((d, i) => d !== expectShape[i]))) {
      throw new CheckpointError(`${st.path}: tensor "${name}" has shape [${info.shape.join(', ')}], the config implies [${expectShape.join(', ')}]`);
    }
    return st.readFloat32(name);
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

export interface SaveOptions {
  /** Split into shards of at most this many bytes (with an index); default: one file. */
  maxShardBytes?: number;
}

/** Writes config.json and the tensors in the Hugging Face layout. */
export function saveCheckpoint(dir: string, config: Record<string, unknown>, tensors: TensorToWrite[], opts: SaveOptions = {}): void {
  mkdirSync(dir, { recursive: true });
  const bytesOf = (t: TensorToWrite) => t.data.length * (t.dtype === 'F32' ? 4 : 2);
  const total = tensors.reduce((p, t) => p + bytesOf(t), 0);
  const max = opts.maxShardBytes;
  if (!max || total <= max) {
    writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  } else {
    const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const shards: TensorToWrite[][] = [[]];
    let size = 0;
    for (const t of sorted) {
      if (size > 0 && size + bytesOf(t) > max) {
        shards.push([]);
        size = 0;
      }
      shards[shards.length - 1].push(t);
      size += bytesOf(t);
    }
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
      writeSafetensors(join(dir, file), shard, { format: 'pt' });
      for (const t of shard) weightMap[t.name] = file;
    });
    writeFileAtomic(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) + '\n');
  }
  writeFileAtomic(join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

export { SafetensorsError };
