// Trace and span ids: random hex, as the OpenTelemetry SDK makes them, and a trace id chosen before the SDK asks.
import type { IdGenerator } from '@opentelemetry/sdk-trace';

const SHARED = Buffer.allocUnsafe(16);

// Math.random, like the SDK's own generator: ids need to be unique, not secret.
function randomHex(bytes: 8 | 16): string {
  for (let i = 0; i < bytes; i += 4) SHARED.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, i);
  // An all-zero id is invalid in W3C trace context.
  if (SHARED.readUInt32BE(0) === 0 && SHARED.readUInt32BE(4) === 0 && (bytes === 8 || (SHARED.readUInt32BE(8) === 0 && SHARED.readUInt32BE(12) === 0))) SHARED[bytes - 1] = 1;
  return SHARED.toString('hex', 0, bytes);
}

export function randomSpanId(): string {
  return randomHex(8);
}

// The SDK generates a new trace's id itself; Tracing decides sampling before that, on an id it then presets.
export class PresetTraceIds implements IdGenerator {
  private next: string | undefined;

  preset(traceId: string | undefined): void {
    this.next = traceId;
  }

  generateTraceId(): string {
    const preset = this.next;
    if (preset === undefined) return randomHex(16);
    this.next = undefined;
    return preset;
  }

  generateSpanId(): string {
    return randomHex(8);
  }
}
