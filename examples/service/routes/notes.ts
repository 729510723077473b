/**
 * @module
 * The notes API: a user reads and writes only their own notes (every query carries the owner).
 */
import type { DatabaseSync } from 'node:sqlite';
import type { Express, Request } from 'express';
import { currentUser, requireUser } from '../auth.ts';
import { createNote, getNote, listNotes, updateNote } from '../db.ts';
import { parseId, pathParam } from '../params.ts';

function noteInput(req: Request): { title: string; body: string } | undefined {
  const { title, body } = (req.body ?? {}) as { title?: unknown; body?: unknown };
  if (typeof title !== 'string' || title === '' || typeof body !== 'string') return undefined;
  return { title, body };
}

export function registerNotes(app: Express, db: DatabaseSync): void {
  app.get('/notes', requireUser, (req, res) => {
    res.json(listNotes(db, currentUser(req)));
  });

  app.get('/notes/:id', requireUser, (req, res) => {
    const id = parseId(pathParam(req, 'id'));
    const note = id === undefined ? undefined : getNote(db, id, currentUser(req));
    if (!note) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    res.json(note);
  });

  app.post('/notes', requireUser, (req, res) => {
    const input = noteInput(req);
    if (!input) {
      res.status(400).json({ error: 'title (non-empty) and body are required' });
      return;
    }
    res.status(201).json(createNote(db, currentUser(req), input.title, input.body));
  });

  app.put('/notes/:id', requireUser, (req, res) => {
    const id = parseId(pathParam(req, 'id'));
    const input = noteInput(req);
    if (!input) {
      res.status(400).json({ error: 'title (non-empty) and body are required' });
      return;
    }
    const owner = currentUser(req);
    if (id === undefined || !updateNote(db, id, owner, input.title, input.body)) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    res.json({ id, owner, ...input });
  });
}
