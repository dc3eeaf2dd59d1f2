// A module's parameters as safetensors tensors and back: float32 under their own (or
// mapped) names when written, checked by name and shape when read. Used by every package,
// state file and result that stores weights (emulators, adapters, harmonizers, training
// states), so the conversion and its checks live in one place.
import type { Module, Parameter } from '../nn/module.js';
import type { TensorToWrite } from './safetensors.js';

/** Named parameters as float32 tensors, each under nameOf(name). */
export function float32Tensors(named: [string, Parameter][], nameOf: (name: string) => string = (n) => n): TensorToWrite[] {
  return named.map(([name, p]) => ({ name: nameOf(name), dtype: 'F32' as const, shape: p.shape, data: p.data as Float32Array }));
}

/** Every parameter of a module as float32 tensors, each under nameOf(name). */
export function moduleTensors(module: Module, nameOf: (name: string) => string = (n) => n): TensorToWrite[] {
  return float32Tensors(module.namedParameters(), nameOf);
}

/**
 * Fills every parameter of `module` from the tensor nameOf(name) of a safetensors file or
 * of tensors in memory; a missing tensor or a shape mismatch is an error naming the file and tensor.
 */
export function readModuleTensors(module: Module, file: TensorSource, nameOf: (name: string) => string = (n) => n): void {
  for (const [name, p] of module.namedParameters()) {
    const key = nameOf(name);
    if (!file.has(key)) throw new Error(`${file.path}: missing tensor "${key}"`);
    const info = file.info(key);
    if (info.shape.join() !== p.shape.join()) throw new Error(`${file.path}: "${key}" has shape [${info.shape}], expected [${p.shape}]`);
    p.data.set(file.readFloat32(key));
  }
}

/** Where named float32 tensors can be read from: an open safetensors file, or memory. */
export interface TensorSource {
  /** Names the source in error messages (a file path, or a label). */
  readonly path: string;
  has(name: string): boolean;
  info(name: string): { shape: readonly number[] };
  readFloat32(name: string): Float32Array;
}

/** Tensors held in memory as a TensorSource (reads return copies: the source stays intact). */
export function memoryTensors(label: string, tensors: TensorToWrite[]): TensorSource {
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const get = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new Error(`${label}: missing tensor "${name}"`);
    return t;
  };
  return {
    path: label,
    has: (name) => byName.has(name),
    info: (name) => ({ shape: get(name).shape }),
    readFloat32: (name) => Float32Array.from(get(name).data),
  };
}
