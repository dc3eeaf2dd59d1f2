// A model's identity for binding emulators and adapters to it: sha256 over the canonical
// bytes of every parameter (name, shape, little-endian float32 values) in name order.
// Independent of file layout, sharding and storage dtype of the checkpoint it came from.
import { createHash } from 'node:crypto';
import type { Module } from '../nn/module.js';

export function fingerprintTensors(tensors: { name: string; shape: readonly number[]; data: Float32Array | Float64Array }[]): string {
  const h = createHash('sha256');
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const t of sorted) {
    h.update(`${t.name}\u0000${t.shape.join(',')}\u0000`);
    const f32 = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    h.update(new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength));
  }
  return h.digest('hex');
}

/** Fingerprint of a model under its Hugging Face tensor names. */
export function modelFingerprint(model: Module & { hfTensors(): { name: string; shape: readonly number[]; data: Float32Array }[] }): string {
  return fingerprintTensors(model.hfTensors());
}
