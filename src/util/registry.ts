// A named registry (tuners, offsite-tuning methods): register once, look up by name with
// an error that lists the known names, list in registration order.
export class Registry<T extends { readonly name: string }> {
  private readonly items = new Map<string, T>();

  constructor(private readonly what: string) {}

  register(item: T): void {
    if (this.items.has(item.name)) throw new Error(`${this.what} "${item.name}" is registered twice`);
    this.items.set(item.name, item);
  }

  get(name: string): T {
    const item = this.items.get(name);
    if (!item) throw new Error(`unknown ${this.what} ${JSON.stringify(name)} (known: ${this.names().join(', ')})`);
    return item;
  }

  names(): string[] {
    return [...this.items.keys()];
  }
}
