import type { IncomingMessage } from 'node:http';
import { RequestRejection } from '../errors.js';

/** Reads a request body, refusing one larger than `maxBytes` (QUERY_TOO_COMPLEX) without buffering it. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  const tooBig = () => new RequestRejection('QUERY_TOO_COMPLEX', `The request body exceeds the limit of ${maxBytes} bytes.`);
  if (Number.isFinite(declared) && declared > maxBytes) {
    req.resume();
    throw tooBig();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      req.resume();
      throw tooBig();
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
