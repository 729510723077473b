/**
 * @module
 * The notes API: a user writes only their own notes and reads their own and those shared with
 * them (every query carries the logged-in user), shares a note with another user, and searches
 * the titles of their own notes.
 */
import type { Express, Request } from 'express';
import { currentUser, requireUser } from '../auth.ts';
import type { Store } from '../db.ts';
import { parseId, pathParam, queryParam } from '../params.ts';

function noteInput(req: Request): { title: string; body: string } | undefined {
  const { title, body } = (req.body ?? {}) as { title?: unknown; body?: unknown };
  if (typeof title !== 'string' || title === '' || typeof body !== 'string') return undefined;
  return { title, body };
}

export function registerNotes(app: Express, store: Store): void {
  app.get('/notes', requireUser, async (req, res) => {
    res.json(await store.listNotes(currentUser(req)));
  });

  // The owner, or a user the note is shared with.
  app.get('/notes/:id', requireUser, async (req, res) => {
    const id = parseId(pathParam(req, 'id'));
    const note = id === undefined ? undefined : await store.getReadableNote(id, currentUser(req));
    if (!note) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    res.json(note);
  });

  app.post('/notes', requireUser, async (req, res) => {
    const input = noteInput(req);
    if (!input) {
      res.status(400).json({ error: 'title (non-empty) and body are required' });
      return;
    }
    res.status(201).json(await store.createNote(currentUser(req), input.title, input.body));
  });

  app.put('/notes/:id', requireUser, async (req, res) => {
    const id = parseId(pathParam(req, 'id'));
    const input = noteInput(req);
    if (!input) {
      res.status(400).json({ error: 'title (non-empty) and body are required' });
      return;
    }
    const owner = currentUser(req);
    if (id === undefined || !(await store.updateNote(id, owner, input.title, input.body))) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    res.json({ id, owner, ...input });
  });

  // `{with: 'bob'}`: bob may then read the note (GET /notes/:id) and sees it in GET /shared.
  app.post('/notes/:id/share', requireUser, async (req, res) => {
    const id = parseId(pathParam(req, 'id'));
    const { with: withUser } = (req.body ?? {}) as { with?: unknown };
    const owner = currentUser(req);
    if (typeof withUser !== 'string' || withUser === '' || withUser === owner) {
      res.status(400).json({ error: 'with: another user is required' });
      return;
    }
    if (id === undefined || !(await store.getNote(id, owner))) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    if (!(await store.userExists(withUser))) {
      res.status(404).json({ error: 'no such user' });
      return;
    }
    await store.shareNote(id, withUser);
    res.json({ id, sharedWith: withUser });
  });

  app.get('/shared', requireUser, async (req, res) => {
    res.json(await store.listShared(currentUser(req)));
  });

  app.get('/search', requireUser, async (req, res) => {
    const text = queryParam(req, 'q');
    if (text === undefined) {
      res.status(400).json({ error: '?q= is required' });
      return;
    }
    res.json(await store.searchNotes(currentUser(req), text));
  });
}
