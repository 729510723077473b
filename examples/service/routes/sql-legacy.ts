/**
 * @module
 * DELIBERATELY VULNERABLE SQL ROUTES ("legacy" endpoints). They exist so that leash's sql module
 * has real attacks to stop: each has a legitimate use (which the workloads exercise, so leash
 * learns its shape) and a bug. Three build their SQL by string concatenation, so an attack
 * changes the text (and so the template) of the statement; two are parameterised but forget the
 * owner condition, so the SQL text is the same for every user and only a value differs (IDOR).
 * Never copy this code: routes/notes.ts and auth.ts do the same things safely.
 */
import type { Express } from 'express';
import { currentUser, requireUser, startSession } from '../auth.ts';
import type { Store } from '../db.ts';
import { parseId, pathParam, queryParam } from '../params.ts';
import { legacyHash } from '../users.ts';

export function registerSqlLegacy(app: Express, store: Store): void {
  // Legit: `{user: 'alice', password: '…'}` logs in with the old unsalted hash.
  // VULNERABLE (SQL injection, login bypass): the name is pasted into the SQL text, so
  // `{user: "alice' --"}` comments the password check out (and `' OR '1'='1' --` matches anyone).
  app.post('/login-legacy', async (req, res) => {
    const { user, password } = (req.body ?? {}) as { user?: unknown; password?: unknown };
    if (typeof user !== 'string' || typeof password !== 'string') {
      res.status(400).json({ error: 'user and password are required' });
      return;
    }
    const sql =
      "SELECT name FROM users WHERE name = '" +
      user +
      "' AND legacy_hash = '" +
      legacyHash(password) +
      "'";
    const name = (await store.unsafeQuery(sql))[0]?.name;
    if (typeof name !== 'string') {
      res.status(401).json({ error: 'wrong user or password' });
      return;
    }
    await startSession(req, name);
    res.json({ user: name });
  });

  // Legit: `?q=Groc` lists the user's notes whose title contains the text.
  // VULNERABLE (SQL injection, UNION): the text is pasted into the SQL, so
  // `?q=%' UNION SELECT 0, name || ':' || password_hash FROM users --` lists every password hash.
  app.get('/search-legacy', requireUser, async (req, res) => {
    const text = queryParam(req, 'q');
    if (text === undefined) {
      res.status(400).json({ error: '?q= is required' });
      return;
    }
    const sql =
      "SELECT id, title FROM notes WHERE owner = '" +
      currentUser(req) +
      "' AND title LIKE '%" +
      text +
      "%' ORDER BY id";
    const rows = await store.unsafeQuery(sql);
    res.json(rows.map((row) => ({ id: row.id, title: row.title })));
  });

  // Legit: `{title: 'Groceries v2'}` renames one of the user's notes.
  // VULNERABLE (SQL injection, stacked queries): the title is pasted into SQL text that runs as a
  // script (SQLite exec, a PostgreSQL simple query), so
  // `{title: "x' WHERE id = 7; CREATE TABLE pwned (x int); --"}` runs a statement of its own.
  app.post('/notes/:id/rename-legacy', requireUser, async (req, res) => {
    const id = parseId(pathParam(req, 'id'));
    const { title } = (req.body ?? {}) as { title?: unknown };
    if (typeof title !== 'string' || title === '') {
      res.status(400).json({ error: 'title (non-empty) is required' });
      return;
    }
    const owner = currentUser(req);
    if (id === undefined || !(await store.getNote(id, owner))) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    await store.unsafeExec(
      "UPDATE notes SET title = '" +
        title +
        "' WHERE id = " +
        String(id) +
        " AND owner = '" +
        owner +
        "'",
    );
    res.json(await store.getNote(id, owner));
  });

  // Legit: a user reads one of their own notes by id.
  // VULNERABLE (IDOR): parameterised, but without the owner condition, so any logged-in user
  // reads anyone's note by guessing its id.
  app.get('/notes-legacy/:id', requireUser, async (req, res) => {
    // The page's sidebar lists the user's own notes; the note itself is then fetched by id alone.
    const sidebar = await store.listNotes(currentUser(req));
    const id = parseId(pathParam(req, 'id'));
    const note = id === undefined ? undefined : await store.getNoteById(id);
    if (!note) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    res.json({ ...note, sidebar: sidebar.map((n) => ({ id: n.id, title: n.title })) });
  });

  // Legit: `{body: '…'}` replaces the body of one of the user's notes.
  // VULNERABLE (IDOR): parameterised `UPDATE notes SET body = ? WHERE id = ?` without the owner
  // condition, so any logged-in user overwrites anyone's note.
  app.put('/notes-legacy/:id', requireUser, async (req, res) => {
    // The answer carries the user's note count, read before the (unchecked) update.
    const count = (await store.listNotes(currentUser(req))).length;
    const id = parseId(pathParam(req, 'id'));
    const { body } = (req.body ?? {}) as { body?: unknown };
    if (typeof body !== 'string') {
      res.status(400).json({ error: 'body is required' });
      return;
    }
    if (id === undefined || !(await store.setNoteBody(id, body))) {
      res.status(404).json({ error: 'no such note' });
      return;
    }
    res.json({ id, body, notes: count });
  });
}
