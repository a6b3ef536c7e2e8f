// Runs a callback when a stream has closed, at once if it already has: how layers hold something until an answer is done.

export interface Closable {
  readonly closed: boolean;
  on(event: 'close', listener: () => void): unknown;
}

export function whenClosed(stream: Closable, done: () => void): void {
  // 'close' comes once per stream, so on() does what once() would, without a wrapper per request.
  if (stream.closed) done();
  else stream.on('close', done);
}
