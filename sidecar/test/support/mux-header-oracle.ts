// The tsmesh/1 header-block reader as it was before it read bytes in place (session 12): one sticky regex per
// line over the block's latin1 text. The oracle the byte-level decodeHeaders is checked against (mux-frames.test.ts).
import type { IncomingHttpHeaders } from 'node:http';
import { HeaderBlockError } from '../../src/transport/mux/frames.js';
import { headerBag } from '../../src/transport/header-bag.js';

const NAME = ":?[!#$%&'*+\\-.^_`|~0-9a-z]+";
const FIELD_LINE = new RegExp(`${NAME}:[^\\r\\n\\0]*\\n`, 'y');

export function oracleDecodeHeaders(block: Buffer): IncomingHttpHeaders {
  const headers = headerBag();
  const text = block.toString('latin1');
  let start = 0;
  while (start < text.length) {
    FIELD_LINE.lastIndex = start;
    if (!FIELD_LINE.test(text)) throw malformedLine(text, start);
    const end = FIELD_LINE.lastIndex - 1;
    const colon = text.indexOf(':', start + 1);
    const name = text.slice(start, colon);
    const value = text.slice(colon + 1, end);
    start = end + 1;
    const existing = headers[name];
    if (existing === undefined) {
      headers[name] = name === 'set-cookie' ? [value] : value;
    } else if (name.charCodeAt(0) === 58 /* ':' */) {
      throw new HeaderBlockError(`pseudo-header "${name}" appears twice`);
    } else if (Array.isArray(existing)) {
      existing.push(value);
    } else {
      headers[name] = `${existing}${name === 'cookie' ? '; ' : ', '}${value}`;
    }
  }
  return headers;
}

function malformedLine(text: string, start: number): HeaderBlockError {
  const end = text.indexOf('\n', start);
  if (end < 0) return new HeaderBlockError('the header block does not end with a newline');
  return new HeaderBlockError(`malformed header line "${text.slice(start, Math.min(end, start + 100))}"`);
}
