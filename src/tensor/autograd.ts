// Reverse-mode automatic differentiation. Every differentiable op calls record(), which,
// when gradients are enabled and some input requires them, attaches a GradNode holding the
// op's inputs and its backward rule to the output. backward() orders the recorded graph
// topologically (the tape), runs the rules from the loss back to the leaves, accumulates
// into leaf .grad, and then releases the graph so that saved activations can be freed.
import { native } from './native.js';
import { Tensor, ShapeError, formatShape, shapesEqual, allocate, allocateOutput } from './tensor.js';
import { keepAsGradient, releaseEarly } from './pool.js';

/** One recorded operation: its inputs and how to map the output gradient onto them. */
export interface GradNode {
  readonly op: string;
  inputs: Tensor[];
  /** Returns one gradient per input (null where an input needs none). */
  backward: (gradOutput: Tensor) => (Tensor | null)[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn with gradient recording off (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** Runs fn with gradient recording on, even inside noGrad. */
export function enableGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/** True when an op on these inputs must be recorded. */
export function needsGrad(...inputs: Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad);
}

/**
 * Attaches the backward rule to `out` if any input requires a gradient. The closure may
 * capture saved tensors; they live exactly as long as the graph does.
 */
export function record(op: string, out: Tensor, inputs: Tensor[], backward: GradNode['backward']): Tensor {
  if (!needsGrad(...inputs)) return out;
  out.requiresGrad = true;
  out.gradFn = { op, inputs, backward };
  return out;
}

/** Topological order of the graph that produced `root` (inputs before outputs). */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep graphs (many layers, long loops) must not overflow the JS stack.
  const stack: { t: Tensor; next: number }[] = [{ t: root, next: 0 }];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top.t.gradFn?.inputs ?? [];
    if (top.next < inputs.length) {
      const child = inputs[top.next++];
      if (child.requiresGrad && !visited.has(child)) {
        visited.add(child);
        stack.push({ t: child, next: 0 });
      }
    } else {
      order.push(top.t);
      stack.pop();
    }
  }
  return order;
}

/**
 * Back-propagates from `root`. Without `gradient`, root must hold one element and the seed
 * is 1. Leaf gradients accumulate across calls (gradient accumulation) until zeroed.
 */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not require grad (was it computed under noGrad?)');
  let seed = gradient;
  if (!seed) {
    if (root.size !== 1) throw new ShapeError(`backward(): needs a gradient for non-scalar shape ${formatShape(root.shape)}`);
    const data = allocate(1, root.dtype);
    data[0] = 1;
    seed = new Tensor(data, root.shape);
  } else if (!shapesEqual(seed.shape, root.shape)) {
    throw new ShapeError(`backward(): gradient shape ${formatShape(seed.shape)} != ${formatShape(root.shape)}`);
  }

  // Backward rules are plain computations: nothing they do is recorded.
  noGrad(() => runBackward(root, seed as Tensor));
}

function runBackward(root: Tensor, seed: Tensor): void {
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>();
  // Gradients whose storage this pass allocated and nobody else references: they can be
  // adopted by a leaf or accumulated into in place instead of being copied.
  const owned = new Set<Tensor>();
  grads.set(root, seed);
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const g = grads.get(t);
    grads.delete(t);
    const node = t.gradFn;
    if (!node) {
      if (g) accumulateLeaf(t, g, owned.has(g));
      owned.delete(g as Tensor);
      continue;
    }
    // Release the graph as we go: the node's closure holds the saved activations.
    t.gradFn = null;
    if (!g) continue;
    const inputGrads = node.backward(g);
    // Storage of each result, read before the loop below releases any of them.
    const gBuffer = g.data.buffer;
    const buffers = inputGrads.map((o) => (o ? o.data.buffer : null));
    const gDead = owned.delete(g) && !buffers.includes(gBuffer);
    for (let k = 0; k < node.inputs.length; k++) {
      const input = node.inputs[k];
      const gi = inputGrads[k];
      if (!gi || !input.requiresGrad) continue;
      if (!shapesEqual(gi.shape, input.shape)) {
        throw new ShapeError(`${node.op} backward: gradient ${formatShape(gi.shape)} for input ${formatShape(input.shape)}`);
      }
      // A rule's result is exclusively ours when it has fresh storage (not the incoming
      // gradient's, as pass-through rules and reshapes return) and no other input got it.
      const exclusive = buffers[k] !== gBuffer && buffers.every((b, j) => j === k || b !== buffers[k]);
      const prev = grads.get(input);
      if (!prev) {
        grads.set(input, gi);
        if (exclusive) owned.add(gi);
      } else if (owned.has(prev)) {
        native.axpy(gi.size, 1, gi.data, prev.data);
        if (exclusive) releaseEarly(gi);
      } else if (exclusive) {
        // Accumulate into the fresh gradient instead of allocating a third buffer.
        native.axpy(prev.size, 1, prev.data, gi.data);
        grads.set(input, gi);
        owned.add(gi);
      } else {
        const sum = addFresh(prev, gi);
        grads.set(input, sum);
        owned.add(sum);
        if (exclusive) releaseEarly(gi);
      }
    }
    node.inputs = [];
    // Inside a buffer scope (a training step), a gradient this pass owns is dead once its
    // rule has run, unless a result shares its storage (pass-through rules, reshapes):
    // its array goes back to the pool for the next rule to reuse.
    if (gDead) releaseEarly(g);
  }
}

/** a + b into new storage: gradient tensors may be shared between graph edges. */
function addFresh(a: Tensor, b: Tensor): Tensor {
  const data = allocateOutput(a.size, a.dtype);
  data.set(a.data);
  const out = new Tensor(data, a.shape);
  native.axpy(a.size, 1, b.data, out.data);
  return out;
}

function accumulateLeaf(leaf: Tensor, g: Tensor, owned: boolean): void {
  if (leaf.grad === null) {
    // Adopt a gradient nobody else holds; copy one that may be shared with another edge.
    // Either way it outlives a buffer scope: it is the leaf's .grad.
    leaf.grad = owned ? g : new Tensor(g.data.slice(), g.shape);
    keepAsGradient(leaf.grad.data.buffer);
  } else {
    native.axpy(g.size, 1, g.data, leaf.grad.data);
    if (owned) releaseEarly(g);
  }
}
