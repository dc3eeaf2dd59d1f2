// Parameter and Module, in the spirit of torch.nn: a module's parameters and children are
// its own fields (discovered in declaration order), so names follow the field path
// ("h.0.attn.c_attn.weight") exactly as a Hugging Face state dict names them.
import { Tensor, Shape, ShapeError, allocate, formatShape, shapesEqual, sizeOf } from '../tensor/tensor.js';
import { recycleGradient } from '../tensor/pool.js';

/** A trainable leaf tensor. `requiresGrad` can be switched off to freeze it. */
export class Parameter extends Tensor {
  constructor(data: Float32Array | Float64Array, shape: Shape, requiresGrad = true) {
    super(data, shape, requiresGrad);
  }

  static zeros(shape: Shape, dtype: 'float32' | 'float64' = 'float32'): Parameter {
    return new Parameter(allocate(sizeOf(shape), dtype), shape);
  }

  static from(t: Tensor, requiresGrad = true): Parameter {
    return new Parameter(t.data, t.shape, requiresGrad);
  }
}

export abstract class Module {
  training = true;

  /** Direct children: [name, Parameter | Module] in field order; arrays become name.i. */
  protected children(): [string, Parameter | Module][] {
    const out: [string, Parameter | Module][] = [];
    for (const [key, value] of Object.entries(this)) {
      if (value instanceof Parameter || value instanceof Module) out.push([key, value]);
    }
    return out;
  }

  namedParameters(prefix = ''): [string, Parameter][] {
    const out: [string, Parameter][] = [];
    const seen = new Set<Parameter>();
    const walk = (m: Module, pre: string): void => {
      for (const [name, child] of m.children()) {
        const full = pre ? `${pre}.${name}` : name;
        if (child instanceof Parameter) {
          // A tied weight appears once, under its first name (as torch's parameters()).
          if (!seen.has(child)) {
            seen.add(child);
            out.push([full, child]);
          }
        } else walk(child, full);
      }
    };
    walk(this, prefix);
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.children()) {
      if (child instanceof Module) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    }
    return out;
  }

  /** Number of parameter elements (tied weights counted once). */
  numParameters(onlyTrainable = false): number {
    return this.parameters().reduce((n, p) => n + (onlyTrainable && !p.requiresGrad ? 0 : p.size), 0);
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      if (p.grad) recycleGradient(p.grad); // a training step's gradient array goes back to the pool
      p.grad = null;
    }
  }

  /** Freezes (or unfreezes) every parameter of this module. */
  requiresGrad(flag: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = flag;
    return this;
  }

  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies values into the parameters by name. With strict (default) every parameter must
   * be present and no extra names may appear; shapes must match exactly.
   */
  loadStateDict(state: Map<string, Tensor>, strict = true): void {
    const params = this.namedParameters();
    const names = new Set(params.map(([n]) => n));
    if (strict) {
      const missing = params.filter(([n]) => !state.has(n)).map(([n]) => n);
      const unexpected = [...state.keys()].filter((n) => !names.has(n));
      if (missing.length || unexpected.length) {
        throw new Error(`loadStateDict: missing [${missing.join(', ')}], unexpected [${unexpected.join(', ')}]`);
      }
    }
    for (const [name, p] of params) {
      const t = state.get(name);
      if (!t) continue;
      if (!shapesEqual(t.shape, p.shape)) {
        throw new ShapeError(`loadStateDict: ${name} has shape ${formatShape(t.shape)}, expected ${formatShape(p.shape)}`);
      }
      p.data.set(t.data);
    }
  }
}

/** An indexable list of modules; children are named 0, 1, ... like torch.nn.ModuleList. */
export class ModuleList<T extends Module> extends Module {
  private readonly items: T[];

  constructor(items: T[] = []) {
    super();
    this.items = [...items];
  }

  protected override children(): [string, Parameter | Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): T {
    const m = this.items[i];
    if (!m) throw new RangeError(`ModuleList: index ${i} out of range (length ${this.items.length})`);
    return m;
  }

  /** Replaces entry i (how offsite-tuning swaps a block for a harmonizer or a compressed copy). */
  set(i: number, m: T): void {
    if (i < 0 || i >= this.items.length) throw new RangeError(`ModuleList: index ${i} out of range`);
    this.items[i] = m;
  }

  push(m: T): void {
    this.items.push(m);
  }

  [Symbol.iterator](): Iterator<T> {
    return this.items[Symbol.iterator]();
  }
}
