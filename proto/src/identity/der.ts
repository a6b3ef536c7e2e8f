// A minimal DER writer: the types a PKCS#10 request and a certificate's frame need, so that a sidecar builds its CSR without node-forge.

function lengthBytes(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), lengthBytes(body.length), body]);
}

export const sequence = (...content: Buffer[]): Buffer => tlv(0x30, ...content);
export const set = (...content: Buffer[]): Buffer => tlv(0x31, ...content);
export const nullValue = (): Buffer => Buffer.from([0x05, 0x00]);
export const octetString = (bytes: Buffer): Buffer => tlv(0x04, bytes);
export const printableString = (text: string): Buffer => tlv(0x13, Buffer.from(text, 'latin1'));
// No unused bits: signatures and keys are whole bytes.
export const bitString = (bytes: Buffer): Buffer => tlv(0x03, Buffer.from([0]), bytes);
export const contextConstructed = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 | n, ...content);
export const contextPrimitive = (n: number, bytes: Buffer): Buffer => tlv(0x80 | n, bytes);

// Small non-negative integers only (a version number).
export function smallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 127) throw new RangeError(`smallInteger: ${value} is not 0-127`);
  return tlv(0x02, Buffer.from([value]));
}

export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const [first = 0, second = 0, ...rest] = arcs;
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let n = Math.floor(arc / 128); n > 0; n = Math.floor(n / 128)) chunk.unshift((n & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

// The PEM form node-forge writes (CRLF, 64 columns), so the bytes on the wire did not change when forge left the sidecar.
export function toPem(der: Buffer, label: string): string {
  const base64 = der.toString('base64');
  let body = '';
  for (let i = 0; i < base64.length; i += 64) body += `${base64.slice(i, i + 64)}\r\n`;
  return `-----BEGIN ${label}-----\r\n${body}-----END ${label}-----\r\n`;
}

export const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';
// AlgorithmIdentifier { sha256WithRSAEncryption, NULL }: how every CSR and certificate here is signed.
export const SHA256_WITH_RSA_ALGORITHM = sequence(oid(SHA256_WITH_RSA), nullValue());
