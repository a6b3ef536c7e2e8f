// A request body that can be sent again: chunks are kept (up to a bound) as they stream to the first try.
import { PassThrough, type Readable } from 'node:stream';

export const DEFAULT_REPLAY_LIMIT_BYTES = 64 * 1024;

// 'streaming': still reading the app's body. 'complete': all of it is buffered. 'overflowed': too big to replay.
type ReplayState = 'streaming' | 'complete' | 'overflowed';

export class ReplayableBody {
  private readonly chunks: Buffer[] = [];
  private bytes = 0;
  private state: ReplayState = 'streaming';
  private current: PassThrough | undefined;
  private sourceError: Error | undefined;
  private attempts = 0;

  constructor(
    private readonly source: Readable,
    private readonly limit = DEFAULT_REPLAY_LIMIT_BYTES,
  ) {
    source.on('data', (chunk: Buffer) => {
      if (this.state === 'streaming') {
        this.bytes += chunk.length;
        if (this.bytes > this.limit) {
          this.state = 'overflowed';
          this.chunks.length = 0;
        } else {
          this.chunks.push(chunk);
        }
      }
      // Backpressure follows the try that is sending now.
      if (this.current && !this.current.write(chunk)) {
        source.pause();
        this.current.once('drain', () => source.resume());
      }
    });
    source.once('end', () => {
      if (this.state === 'streaming') this.state = 'complete';
      this.current?.end();
    });
    const cut = (error: Error): void => {
      if (this.sourceError !== undefined) return;
      this.sourceError = error;
      // Closed without an error event: nobody listens for one on a try's body, and an unheard one would
      // crash the sidecar. The try sees its body close before the end; forward resets its stream.
      this.current?.destroy();
    };
    source.once('error', cut);
    // A source destroyed without an error is cut short all the same.
    source.once('close', () => {
      if (!source.readableEnded) cut(new Error('the request body closed before its end'));
    });
    // Cut before this layer saw it (the app's connection went away while earlier layers were still deciding).
    if (source.destroyed && !source.readableEnded) cut(new Error('the request body closed before its end'));
  }

  // Whether a new try can be given the whole body from the start.
  get replayable(): boolean {
    return this.attempts === 0 || (this.state !== 'overflowed' && this.sourceError === undefined);
  }

  // A fresh stream for the next try: what was buffered, then whatever the app still sends.
  open(): Readable {
    this.attempts++;
    const previous = this.current;
    if (previous) {
      previous.removeAllListeners('drain');
      previous.destroy();
    }
    const stream = new PassThrough();
    this.current = stream;
    for (const chunk of this.chunks) stream.write(chunk);
    if (this.state === 'complete') stream.end();
    else if (this.sourceError) stream.destroy();
    else this.source.resume();
    return stream;
  }
}
