/**
 * @module
 * Uploads: each user has a directory `uploads/<user>/`; file names are checked so that these
 * routes never leave it.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import express, { type Express } from 'express';
import { currentUser, requireUser } from '../auth.ts';
import { pathParam, queryParam } from '../params.ts';

/** A plain file name: letters, digits, `.`, `_`, `-`, not starting with a dot. */
export function safeName(name: string | undefined): string | undefined {
  return name !== undefined && /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/.test(name) ? name : undefined;
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

export function registerFiles(app: Express, uploadsDir: string): void {
  // The body is the file itself (any content type); its name comes from `?name=`.
  const rawBody = express.raw({ type: () => true, limit: '10mb' });

  app.post('/upload', requireUser, rawBody, async (req, res) => {
    const name = safeName(queryParam(req, 'name'));
    if (name === undefined) {
      res.status(400).json({ error: 'a plain file name is required in ?name=' });
      return;
    }
    const body: unknown = req.body;
    const content = Buffer.isBuffer(body) ? body : Buffer.alloc(0);
    const dir = join(uploadsDir, currentUser(req));
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, name), content);
    res.status(201).json({ name, size: content.length });
  });

  app.get('/files', requireUser, async (req, res) => {
    try {
      res.json((await readdir(join(uploadsDir, currentUser(req)))).sort());
    } catch (error) {
      if (!isMissing(error)) throw error;
      res.json([]);
    }
  });

  app.get('/files/:name', requireUser, async (req, res) => {
    const name = safeName(pathParam(req, 'name'));
    if (name === undefined) {
      res.status(400).json({ error: 'bad file name' });
      return;
    }
    try {
      const content = await readFile(join(uploadsDir, currentUser(req), name));
      res.type(extname(name) || 'bin').send(content);
    } catch (error) {
      if (!isMissing(error)) throw error;
      res.status(404).json({ error: 'no such file' });
    }
  });
}
