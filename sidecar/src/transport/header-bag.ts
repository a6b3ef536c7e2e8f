// Header maps: objects with no Object.prototype behind them, so every field name is an own property, kept in V8's fast mode.
import type { IncomingHttpHeaders } from 'node:http';

// A plain {} inherits "constructor", "toString" and the "__proto__" setter: a field of that name read as
// present, or (an array assigned to "__proto__") replaced the prototype and leaked its elements as fields.
// Object.create(null) has neither problem but starts in dictionary mode, where every lookup hashes and
// every for-in sorts the keys; an instance of a constructor whose prototype is null-based has neither.
function HeaderBag(): void {}
HeaderBag.prototype = Object.create(null) as object;

export function headerBag<T extends object = IncomingHttpHeaders>(): T {
  return new (HeaderBag as unknown as new () => T)();
}
