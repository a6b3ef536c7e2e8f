// Writes tsmesh/1 frames to the socket; every frame of one event-loop turn leaves in one TLS record and one syscall.
import type { Socket } from 'node:net';
import { FLAG_END, Frame, frameHeader } from './frames.js';

export class FrameWriter {
  private corked = false;

  constructor(private readonly socket: Socket) {}

  // After end() a write is an error on the socket, not a frame the peer could still read.
  get writable(): boolean {
    return !this.socket.destroyed && !this.socket.writableEnded;
  }

  frame(frame: Buffer): void {
    if (!this.writable) return;
    this.cork();
    this.socket.write(frame);
  }

  // The payload is written as it is, not copied behind its frame head.
  data(id: number, chunk: Buffer, end: boolean): void {
    if (!this.writable) return;
    this.cork();
    this.socket.write(frameHeader(Frame.data, end ? FLAG_END : 0, id, chunk.length));
    if (chunk.length > 0) this.socket.write(chunk);
  }

  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    // After this loop turn's I/O callbacks, not this tick's: the answers to many app connections read in
    // one turn leave in one TLS record (process.nextTick would flush once per connection).
    setImmediate(this.flush);
  }

  // Made once per connection: a closure per loop turn was a measurable allocation at low rates.
  private readonly flush = (): void => {
    this.corked = false;
    this.socket.uncork();
  };
}
