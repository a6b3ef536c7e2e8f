// The contract between a tsmesh/1 stream and its connection: what a stream sends, spends and reports.
import type { MuxStream } from './stream.js';

// What a stream needs from its connection.
export interface StreamLink {
  // frame: the HEADERS frame from encodeHeaderFrame; the connection stamps the id and END on it.
  sendHeaders(id: number, frame: Buffer, end: boolean): void;
  sendData(id: number, chunk: Buffer, end: boolean): void;
  sendWindow(id: number, increment: number): void;
  sendReset(id: number, code: number, reason: string): void;
  // The connection's credit for body bytes (sendData spends it); awaitCredit: resumeSending() when there is more.
  readonly sendable: number;
  awaitCredit(stream: MuxStream): void;
  // Body bytes this stream's consumer read, or that were dropped: they go back to the connection's credit.
  consumed(bytes: number): void;
  // Both directions ended or the stream was reset: the connection forgets it.
  settled(stream: MuxStream): void;
}
