// Reads a tcpdump capture (classic pcap, Ethernet or Linux cooked) into TCP segments, to search what crossed the wire.
import { readFileSync } from 'node:fs';

export interface TcpSegment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: Buffer;
}

const LINKTYPE_ETHERNET = 1;
const LINKTYPE_LINUX_SLL = 113;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;

// Offset of the IPv4 header in one frame, or undefined when the frame is not IPv4.
function ipv4Offset(frame: Buffer, linkType: number): number | undefined {
  if (linkType === LINKTYPE_LINUX_SLL) return frame.length >= 16 && frame.readUInt16BE(14) === ETHERTYPE_IPV4 ? 16 : undefined;
  if (linkType !== LINKTYPE_ETHERNET || frame.length < 14) return undefined;
  let offset = 12;
  let type = frame.readUInt16BE(offset);
  if (type === ETHERTYPE_VLAN && frame.length >= 18) {
    offset += 4;
    type = frame.readUInt16BE(offset);
  }
  return type === ETHERTYPE_IPV4 ? offset + 2 : undefined;
}

function tcpSegment(frame: Buffer, ip: number): TcpSegment | undefined {
  if (frame.length < ip + 20 || frame[ip]! >> 4 !== 4 || frame[ip + 9] !== 6) return undefined;
  const ipHeader = (frame[ip]! & 0x0f) * 4;
  // The IP total length, not the frame length: Ethernet pads short frames.
  const ipEnd = Math.min(frame.length, ip + frame.readUInt16BE(ip + 2));
  const tcp = ip + ipHeader;
  if (ipEnd < tcp + 20) return undefined;
  const tcpHeader = (frame[tcp + 12]! >> 4) * 4;
  const address = (at: number): string => [...frame.subarray(at, at + 4)].join('.');
  return {
    src: address(ip + 12),
    dst: address(ip + 16),
    srcPort: frame.readUInt16BE(tcp),
    dstPort: frame.readUInt16BE(tcp + 2),
    payload: frame.subarray(Math.min(ipEnd, tcp + tcpHeader), ipEnd),
  };
}

// Every TCP segment with its payload (possibly empty), in capture order.
export function readTcpSegments(path: string): TcpSegment[] {
  const file = readFileSync(path);
  if (file.length < 24) return [];
  const magic = file.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!little && file.readUInt32BE(0) !== 0xa1b2c3d4 && file.readUInt32BE(0) !== 0xa1b23c4d) throw new Error(`${path} is not a classic pcap file`);
  const u32 = (at: number): number => (little ? file.readUInt32LE(at) : file.readUInt32BE(at));
  const linkType = u32(20) & 0xffff;
  const segments: TcpSegment[] = [];
  // A record cut short by a capture that was stopped mid-write ends the walk.
  for (let at = 24; at + 16 <= file.length; ) {
    const length = u32(at + 8);
    const frame = file.subarray(at + 16, at + 16 + length);
    at += 16 + length;
    if (frame.length < length) break;
    const ip = ipv4Offset(frame, linkType);
    const segment = ip === undefined ? undefined : tcpSegment(frame, ip);
    if (segment) segments.push(segment);
  }
  return segments;
}

// Each direction of each connection as one byte stream, so that a marker split over two segments is still found.
// Segments are joined in capture order; a retransmission only repeats bytes, which cannot hide a marker.
export function tcpStreams(segments: TcpSegment[]): Map<string, Buffer> {
  const parts = new Map<string, Buffer[]>();
  for (const segment of segments) {
    if (segment.payload.length === 0) continue;
    const key = `${segment.src}:${segment.srcPort}>${segment.dst}:${segment.dstPort}`;
    const list = parts.get(key) ?? [];
    list.push(segment.payload);
    parts.set(key, list);
  }
  return new Map([...parts].map(([key, list]) => [key, Buffer.concat(list)]));
}

// The streams (as "src:port>dst:port") in which `marker` appears.
export function streamsContaining(segments: TcpSegment[], marker: string | Buffer): string[] {
  const needle = typeof marker === 'string' ? Buffer.from(marker) : marker;
  return [...tcpStreams(segments)].filter(([, bytes]) => bytes.includes(needle)).map(([key]) => key);
}

// The streams to `port` whose bytes start like a TLS record (handshake 0x16 or application data 0x17, version 3.x).
export function tlsStreamsTo(segments: TcpSegment[], port: number): string[] {
  return [...tcpStreams(segments)]
    .filter(([key, bytes]) => key.endsWith(`:${port}`) && (bytes[0] === 0x16 || bytes[0] === 0x17) && bytes[1] === 0x03)
    .map(([key]) => key);
}
