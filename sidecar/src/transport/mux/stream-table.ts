// The streams in flight on one connection, by id: a plain object, not a Map, for the garbage collector's sake.
//
// V8 keeps a Map's replaced hash tables with their entries and a link to the table that replaced them. A
// connection's Map lives long, so its table ends up in the old generation; once it is replaced, the dead table
// still reaches every later table, and the scavenger, which takes old objects as live, copies and promotes
// every stream since (and all each one holds) until the next mark-compact. Under load the sidecars ran a
// mark-compact every fraction of a second for it (bench/README.md, session 9). Dictionary elements keep no such link.
export class StreamTable<T> {
  private readonly byId: Record<number, T> = Object.create(null) as Record<number, T>;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    return this.byId[id];
  }

  has(id: number): boolean {
    return this.byId[id] !== undefined;
  }

  set(id: number, value: T): void {
    if (this.byId[id] === undefined) this.count++;
    this.byId[id] = value;
  }

  delete(id: number): void {
    if (this.byId[id] === undefined) return;
    delete this.byId[id];
    this.count--;
  }

  // A copy, so the caller may change the table while it goes through them.
  values(): T[] {
    return Object.values(this.byId);
  }
}
