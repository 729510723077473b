/**
 * @module
 * HTML pages rendered from the templates in views/. The gallery loads a script, a stylesheet, a
 * font and images from the CDN origin and has inline code; the clock's inline script changes with
 * every response, so only the per-response nonce (`res.locals.cspNonce`, set by a CSP layer such
 * as leash's csp module) can allow it.
 */
import type { Express } from 'express';
import { currentUser, requireUser } from '../auth.ts';
import type { Config } from '../config.ts';
import type { Store } from '../db.ts';
import { parseId, pathParam } from '../params.ts';
import { renderPage } from '../views.ts';

export function registerPages(
  app: Express,
  store: Store,
  config: Pick<Config, 'viewsDir' | 'cdnOrigin'>,
): void {
  const { viewsDir } = config;
  app.get('/', async (req, res) => {
    const user = req.session.user;
    const html = await renderPage(viewsDir, 'home', {
      title: 'Home',
      user: user ?? 'guest',
      greeting: user ? `Hello, ${user}` : 'Welcome',
      summary: user
        ? `You have ${await store.countNotes(user)} notes.`
        : 'Log in to see your notes.',
    });
    res.type('html').send(html);
  });

  app.get('/notes/:id/view', requireUser, async (req, res) => {
    const id = parseId(pathParam(req, 'id'));
    const user = currentUser(req);
    const note = id === undefined ? undefined : await store.getNote(id, user);
    if (!note) {
      res.status(404).type('text').send('no such note');
      return;
    }
    const html = await renderPage(viewsDir, 'note', {
      title: note.title,
      user,
      owner: note.owner,
      body: note.body,
    });
    res.type('html').send(html);
  });

  app.get('/gallery', async (req, res) => {
    const html = await renderPage(viewsDir, 'gallery', {
      title: 'Gallery',
      user: req.session.user ?? 'guest',
      cdn: config.cdnOrigin,
    });
    res.type('html').send(html);
  });

  app.get('/clock', async (req, res) => {
    const now = new Date();
    const html = await renderPage(viewsDir, 'clock', {
      title: 'Clock',
      user: req.session.user ?? 'guest',
      time: now.toISOString(),
      ms: now.getTime(),
      // Without a CSP layer there is no nonce, and the script runs anyway.
      nonce: String(res.locals.cspNonce ?? ''),
    });
    res.type('html').send(html);
  });
}
