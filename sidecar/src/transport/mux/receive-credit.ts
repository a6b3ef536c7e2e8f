// A tsmesh/1 stream's incoming body accounting: its own credit, granted back as the consumer reads, and the bytes owed to the connection's window.
import { INITIAL_WINDOW } from './frames.js';
import type { StreamLink } from './stream-link.js';

// Credit goes back in batches: one WINDOW frame per quarter window read, not one per DATA frame.
const CREDIT_BATCH = INITIAL_WINDOW / 4;

export class ReceiveCredit {
  private credit = INITIAL_WINDOW;
  private toGrant = 0;
  // Body bytes handed to the consumer, and how many of them were reported read to the connection.
  private pushed = 0;
  private reported = 0;

  constructor(
    private readonly id: number,
    private readonly link: Pick<StreamLink, 'sendWindow' | 'consumed'>,
  ) {}

  // DATA arrived. Returns a reason when the peer sent more than this stream's credit.
  take(bytes: number): string | undefined {
    if (bytes > this.credit) return `DATA of ${bytes} bytes with ${this.credit} bytes of credit left`;
    this.credit -= bytes;
    this.toGrant += bytes;
    return undefined;
  }

  pushedToConsumer(bytes: number): void {
    this.pushed += bytes;
  }

  // unread: what still sits in the stream's buffer; the rest was read and goes back to the connection.
  reportRead(unread: number): void {
    const read = this.pushed - unread - this.reported;
    if (read > 0) {
      this.reported += read;
      this.link.consumed(read);
    }
  }

  // The stream is gone: what its consumer never read is dropped, and the connection gets it back.
  dropUnread(): void {
    this.reportRead(0);
  }

  // Only while more body may come: after the end, credit would be for nothing.
  grant(): void {
    if (this.toGrant < CREDIT_BATCH) return;
    this.link.sendWindow(this.id, this.toGrant);
    this.credit += this.toGrant;
    this.toGrant = 0;
  }
}
