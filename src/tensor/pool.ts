// Reusing the float arrays of a training step. One base-24 step allocates ~3 GB of op
// outputs and gradients that are dead a moment later; as fresh ArrayBuffers they cost
// page faults, and V8 counts them as external memory and starts a full collection about
// every 64 MB of them (~35 mark-compacts per step, a third of a tuning run's time:
// docs/evidence/gc-tuning-step.md). Inside a buffer scope (withBufferScope: the training
// loop wraps each step's forward and backward passes in one, the scoring loops each batch,
// models/causal_lm.ts runBlocks each block of an inference forward) op outputs come from
// a bounded pool of freed arrays of the same byte length instead.
//
// What makes reuse safe:
//   - only arrays allocated inside the scope are ever reused, and only when the scope
//     ends (or, during backward, a gradient the pass owns exclusively once consumed);
//   - the scope keeps what escapes by design: the tensors its function returns and the
//     gradients adopted by leaves (parameters' .grad), which zeroGrad hands back to the
//     pool (recycleGradient) when it drops them;
//   - every Tensor created inside the scope whose storage is reused is marked released, so
//     touching it afterwards throws ReleasedTensorError instead of reading another
//     tensor's values. Only a raw typed array taken out of a scoped tensor and kept past
//     the scope could see reused memory; library code never keeps one (KV caches and
//     optimizer state live outside training scopes or in their own allocations).
//   - returning a tensor that still has an autograd graph is an error: its backward would
//     read saved arrays that the scope has reused.
//
// The pool is bounded (SCALEOT_POOL_MB, default 4096; 0 turns pooling off): when it is
// full its oldest arrays are left to the garbage collector, and so are arrays no step took
// for two steps (a workload with other shapes has taken over). Training shapes repeat
// every step, so after the first step a step takes from the pool what the previous one
// gave back and the pool stops growing (tested over many steps).

/** Storage of a tensor that can be released; Tensor implements it. */
export interface ReleasableStorage {
  /** The ArrayBuffer under the tensor's values (null for a tensor without float values). */
  storageBuffer(): ArrayBufferLike | null;
  /** Marks the tensor unusable: its storage is being reused. */
  releaseStorage(): void;
}

interface Scope {
  /** Arrays allocated inside this scope and not yet released. */
  buffers: Set<ArrayBuffer>;
  /** Tensors created inside this scope. */
  tensors: ReleasableStorage[];
  /** Buffers that must survive the scope (leaf gradients). */
  kept: Set<ArrayBufferLike>;
  parent: Scope | null;
}

export interface PoolStats {
  /** Bytes held by the pool, waiting to be reused. */
  pooledBytes: number;
  /** Arrays held by the pool. */
  pooledArrays: number;
  /** Allocations served from the pool since the process started. */
  reused: number;
  /** Allocations inside scopes that needed a fresh array. */
  fresh: number;
  /** Released arrays larger than the whole pool (left to the collector). */
  dropped: number;
  /** Pooled arrays evicted (left to the collector): the oldest when the pool was full, or unused for two epochs. */
  evicted: number;
  /** The bound on pooledBytes. */
  capacityBytes: number;
}

function capacityFromEnv(): number {
  const raw = process.env.SCALEOT_POOL_MB;
  if (raw === undefined || raw === '') return 4096 * 2 ** 20;
  const mb = Number(raw);
  if (!Number.isFinite(mb) || mb < 0) throw new Error(`SCALEOT_POOL_MB=${raw}: expected a size in MiB (0 turns the buffer pool off)`);
  return Math.floor(mb * 2 ** 20);
}

let capacity = capacityFromEnv();
const free = new Map<number, ArrayBuffer[]>();
// Every pooled array with the epoch it was given back in, oldest first (a Map keeps
// insertion order). An epoch ends with each outermost scope (a training step, a scoring
// batch). Arrays nobody took for STALE_EPOCHS epochs belong to a workload that has moved on
// (other shapes: validation between training steps, the next stage of an experiment) and
// are evicted, as are the oldest ones when the pool is full, so a process that changes
// workloads keeps neither stale memory nor a pool too full to take the new shapes.
const givenAt = new Map<ArrayBuffer, number>();
const STALE_EPOCHS = 2;
let epoch = 0;
let pooledBytes = 0, pooledArrays = 0, reused = 0, fresh = 0, dropped = 0, evicted = 0;
let current: Scope | null = null;

/**
 * An ArrayBuffer of exactly `bytes` bytes with unspecified contents: from the pool inside a
 * scope when one of that length is free, else fresh. Outside scopes always fresh.
 */
export function takeBuffer(bytes: number): ArrayBuffer {
  if (current === null) return Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
  const list = free.get(bytes);
  let buf: ArrayBuffer;
  if (list && list.length > 0) {
    buf = list.pop() as ArrayBuffer;
    givenAt.delete(buf);
    pooledBytes -= bytes;
    pooledArrays--;
    reused++;
  } else {
    buf = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer; // its own ArrayBuffer, offset 0
    fresh++;
  }
  current.buffers.add(buf);
  return buf;
}

/** Called by the Tensor constructor: tensors made inside a scope may be released with it. */
export function noteTensor(t: ReleasableStorage): void {
  if (current !== null) current.tensors.push(t);
}

// Scope-allocated arrays adopted as leaves' gradients: the only arrays that outlive a
// scope and come back to the pool later, when the optimizer drops the gradients.
const leafGradients = new WeakSet<ArrayBufferLike>();

/** This buffer survives the scope: a gradient adopted by a leaf (its .grad). */
export function keepAsGradient(buf: ArrayBufferLike): void {
  if (current === null || !current.buffers.has(buf as ArrayBuffer)) return;
  current.kept.add(buf);
  leafGradients.add(buf);
}

/**
 * A leaf's gradient being dropped (zeroGrad): when its array came from a scope, the
 * tensor is marked released and the array returns to the pool, so the next step's
 * gradients reuse it. Other gradients (assigned by hand, copies) are left alone.
 */
export function recycleGradient(grad: ReleasableStorage): void {
  const buf = grad.storageBuffer();
  if (!buf || !leafGradients.has(buf)) return;
  leafGradients.delete(buf);
  grad.releaseStorage();
  give(buf as ArrayBuffer);
}

function give(buf: ArrayBuffer): void {
  const bytes = buf.byteLength;
  if (bytes > capacity) {
    dropped++;
    return;
  }
  while (pooledBytes + bytes > capacity) evict(givenAt.keys().next().value as ArrayBuffer);
  let list = free.get(bytes);
  if (!list) free.set(bytes, (list = []));
  list.push(buf);
  givenAt.set(buf, epoch);
  pooledBytes += bytes;
  pooledArrays++;
}

/** Takes a pooled array out of the pool and leaves it to the collector. */
function evict(buf: ArrayBuffer): void {
  const list = free.get(buf.byteLength) as ArrayBuffer[];
  list.splice(list.indexOf(buf), 1);
  givenAt.delete(buf);
  pooledBytes -= buf.byteLength;
  pooledArrays--;
  evicted++;
}

/** Ends an epoch (an outermost scope): evicts the arrays no scope took for STALE_EPOCHS epochs. */
function endEpoch(): void {
  epoch++;
  for (const [buf, at] of givenAt) {
    if (at > epoch - STALE_EPOCHS) break; // the rest are younger
    evict(buf);
  }
}

/**
 * Releases a tensor's storage now, before the scope ends: for the backward pass, whose
 * gradients it owns exclusively and has consumed. Storage not allocated in the active
 * scope is left alone.
 */
export function releaseEarly(t: ReleasableStorage): void {
  if (current === null) return;
  const buf = t.storageBuffer() as ArrayBuffer | null;
  if (!buf || !current.buffers.has(buf) || current.kept.has(buf)) return;
  current.buffers.delete(buf);
  t.releaseStorage();
  give(buf);
}

/** Thrown when a tensor returned from a scope still carries its autograd graph. */
export class LiveGraphError extends Error {
  override name = 'LiveGraphError';
}

/**
 * Runs fn with op outputs drawn from the pool, then releases every array allocated inside
 * it except those under the returned tensors (`keep` picks them out of the result) and
 * leaf gradients. Tensors made inside and not kept become unusable.
 */
export function withBufferScope<T>(fn: () => T, keep: (result: T) => Iterable<ReleasableStorage & { gradFn: unknown }> = () => []): T {
  if (capacity === 0) return fn();
  const scope: Scope = { buffers: new Set(), tensors: [], kept: new Set(), parent: current };
  current = scope;
  let result: T;
  try {
    result = fn();
  } catch (err) {
    // Nothing made inside may be trusted to be unused after an error: leave it all to the
    // collector rather than reuse it.
    current = scope.parent;
    throw err;
  }
  current = scope.parent;
  const kept = new Set<ArrayBufferLike>(scope.kept);
  for (const t of keep(result)) {
    if (t.gradFn) throw new LiveGraphError('withBufferScope: a returned tensor still has its autograd graph; run backward inside the scope or detach() it');
    const buf = t.storageBuffer();
    if (buf) kept.add(buf);
  }
  const released = new Set<ArrayBufferLike>();
  for (const buf of scope.buffers) {
    if (kept.has(buf)) scope.parent?.buffers.add(buf);
    else {
      released.add(buf);
      give(buf);
    }
  }
  for (const t of scope.tensors) {
    const buf = t.storageBuffer();
    if (buf && released.has(buf)) t.releaseStorage();
    else scope.parent?.tensors.push(t);
  }
  if (scope.parent) for (const buf of scope.kept) scope.parent.kept.add(buf);
  else endEpoch();
  return result;
}

/** Counters of the pool since the process started. */
export function poolStats(): PoolStats {
  return { pooledBytes, pooledArrays, reused, fresh, dropped, evicted, capacityBytes: capacity };
}

/** Empties the pool (its arrays go to the collector); optionally sets a new bound. */
export function clearPool(capacityBytes?: number): void {
  free.clear();
  givenAt.clear();
  pooledBytes = 0;
  pooledArrays = 0;
  if (capacityBytes !== undefined) capacity = capacityBytes;
}
