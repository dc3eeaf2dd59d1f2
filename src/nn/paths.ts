// Sub-modules by dotted path ("attn.c_attn"), for methods that swap a layer inside a block
// (SRC's low-rank layers, LoRA, bottleneck adapters).

/** Follows a dotted path of fields from a module. */
export function getPath(root: object, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root);
}

/** Replaces the module at a dotted path (fields are readonly in TypeScript only). */
export function setPath(root: object, path: string, value: unknown): void {
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], root) as Record<string, unknown>;
  const last = keys[keys.length - 1];
  if (!(last in parent)) throw new Error(`no module at "${path}"`);
  parent[last] = value;
}
