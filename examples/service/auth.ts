/**
 * @module
 * Sessions (express-session, in-memory store) and the login routes. The logged-in user's name is
 * `req.session.user`: the principal that owns notes, uploads and export jobs.
 */
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import type { Store } from './db.ts';
import { verifyPassword } from './users.ts';

declare module 'express-session' {
  interface SessionData {
    user: string;
  }
}

export function sessions(secret: string): RequestHandler {
  return session({
    name: 'sid',
    secret,
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax' },
  });
}

/** The logged-in user, or undefined; routes behind `requireUser` can rely on it being set. */
export function currentUser(req: Request): string {
  const user = req.session.user;
  if (user === undefined) throw new Error('currentUser() outside requireUser');
  return user;
}

export function requireUser(req: Request, res: Response, next: NextFunction): void {
  if (req.session.user === undefined) {
    res.status(401).json({ error: 'login required' });
    return;
  }
  next();
}

/** Logs the request's session in as `user`, with a fresh session id. */
export async function startSession(req: Request, user: string): Promise<void> {
  // A fresh session id at login, so a session id planted before login is worthless.
  await new Promise<void>((resolve, reject) =>
    req.session.regenerate((error: unknown) => (error ? reject(error) : resolve())),
  );
  req.session.user = user;
}

export function registerAuth(app: Express, store: Store): void {
  app.post('/login', async (req, res) => {
    const { user, password } = (req.body ?? {}) as { user?: unknown; password?: unknown };
    if (typeof user !== 'string' || typeof password !== 'string') {
      res.status(400).json({ error: 'user and password are required' });
      return;
    }
    const hash = await store.findPasswordHash(user);
    if (hash === undefined || !(await verifyPassword(password, hash))) {
      res.status(401).json({ error: 'wrong user or password' });
      return;
    }
    await startSession(req, user);
    res.json({ user });
  });

  app.post('/logout', async (req, res) => {
    await new Promise<void>((resolve, reject) =>
      req.session.destroy((error: unknown) => (error ? reject(error) : resolve())),
    );
    res.clearCookie('sid').json({ ok: true });
  });

  app.get('/me', requireUser, (req, res) => {
    res.json({ user: currentUser(req) });
  });
}
