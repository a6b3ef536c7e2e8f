// Kubernetes API failures in one line: the HTTP status and the API server's own message, not the client's dump of headers.
import { ApiException } from '@kubernetes/client-node';

export function statusCodeOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = error.body as { message?: unknown } | string | undefined;
    const message = typeof body === 'object' && body !== null && typeof body.message === 'string' ? body.message : typeof body === 'string' && body ? body.slice(0, 200) : 'no message';
    return `HTTP ${error.code}: ${message}`;
  }
  const code = statusCodeOf(error);
  const text = error instanceof Error ? error.message : String(error);
  return code === undefined ? text : `HTTP ${code}: ${text}`;
}
