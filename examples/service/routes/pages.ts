/**
 * @module
 * HTML pages rendered from the templates in views/.
 */
import type { Express } from 'express';
import { currentUser, requireUser } from '../auth.ts';
import type { Store } from '../db.ts';
import { parseId, pathParam } from '../params.ts';
import { renderPage } from '../views.ts';

export function registerPages(app: Express, store: Store, viewsDir: string): void {
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
}
