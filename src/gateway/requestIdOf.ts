import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** What an X-Request-Id a client sends may look like to be echoed and logged. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: the client's X-Request-Id when it is well-formed, else a fresh UUID. */
export function requestIdOf(req: IncomingMessage): string {
  const sent = req.headers['x-request-id'];
  const id = Array.isArray(sent) ? sent[0] : sent;
  return id !== undefined && REQUEST_ID.test(id) ? id : randomUUID();
}
