// The join token wire format: tsmesh-jt.v1.<base64url(JSON payload)>.<base64url(HMAC-SHA256(secret, payload part))>.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { isValidName, isValidTrustDomain } from '@tsmesh/proto';

export const TOKEN_PREFIX = 'tsmesh-jt.v1.';
// Far above any real token; bounds the work an unauthenticated caller can ask for.
const MAX_TOKEN_LENGTH = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface TokenPayload {
  jti: string;
  ns: string;
  sa: string;
  td: string;
  // Unix milliseconds.
  exp: number;
  max: number;
}

export type DecodeFailure = { kind: 'malformed' | 'forged'; message: string };

function signaturePart(secret: Uint8Array, payloadPart: string): string {
  return createHmac('sha256', secret).update(payloadPart).digest('base64url');
}

export function encodeToken(payload: TokenPayload, secret: Uint8Array): string {
  const payloadPart = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${TOKEN_PREFIX}${payloadPart}.${signaturePart(secret, payloadPart)}`;
}

function isPayload(value: unknown): value is TokenPayload {
  if (typeof value !== 'object' || value === null) return false;
  const p = value as Record<string, unknown>;
  return (
    typeof p['jti'] === 'string' &&
    /^[0-9a-f]{32}$/.test(p['jti']) &&
    typeof p['ns'] === 'string' &&
    isValidName(p['ns']) &&
    typeof p['sa'] === 'string' &&
    isValidName(p['sa']) &&
    typeof p['td'] === 'string' &&
    isValidTrustDomain(p['td']) &&
    Number.isSafeInteger(p['exp']) &&
    Number.isSafeInteger(p['max']) &&
    (p['max'] as number) >= 1
  );
}

// Checks the signature before the payload is even decoded: nothing unauthenticated is parsed.
export function decodeToken(token: string, secret: Uint8Array): { ok: true; payload: TokenPayload } | { ok: false; error: DecodeFailure } {
  const malformed = (why: string): { ok: false; error: DecodeFailure } => ({ ok: false, error: { kind: 'malformed', message: `not a tsmesh join token: ${why}` } });
  if (typeof token !== 'string' || token.length === 0) return malformed('the token is empty');
  if (token.length > MAX_TOKEN_LENGTH) return malformed(`the token is ${token.length} characters long`);
  if (!token.startsWith(TOKEN_PREFIX)) return malformed(`it does not start with "${TOKEN_PREFIX}"`);
  const parts = token.slice(TOKEN_PREFIX.length).split('.');
  const [payloadPart, signature] = parts;
  if (parts.length !== 2 || !payloadPart || !signature || !BASE64URL.test(payloadPart) || !BASE64URL.test(signature)) {
    return malformed(`expected ${TOKEN_PREFIX}<payload>.<signature> in base64url`);
  }
  // Compare the canonical encodings: decoding first would accept a signature with altered padding bits.
  const expected = Buffer.from(signaturePart(secret, payloadPart));
  const given = Buffer.from(signature);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, error: { kind: 'forged', message: 'the join token signature is not valid: it was altered, or minted by another control plane' } };
  }
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(payloadPart, 'base64url').toString('utf8'));
  } catch {
    return malformed('its payload is not JSON');
  }
  if (!isPayload(payload)) return malformed('its payload lacks a valid jti, ns, sa, td, exp or max');
  return { ok: true, payload };
}
