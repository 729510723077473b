/**
 * @module
 * Background export jobs: `tar` packs a user's uploads into `exports/<id>.tgz`. The child process
 * is started with an argument vector (execFile, no shell) and outlives the request that started it.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Express } from 'express';
import { currentUser, requireUser } from '../auth.ts';
import type { Config } from '../config.ts';
import { pathParam } from '../params.ts';

interface Job {
  id: string;
  owner: string;
  status: 'running' | 'done' | 'failed';
  file: string;
  error?: string;
}

export function registerExport(app: Express, config: Config): void {
  const jobs = new Map<string, Job>();

  app.post('/export', requireUser, async (req, res) => {
    const owner = currentUser(req);
    const id = randomUUID();
    const job: Job = { id, owner, status: 'running', file: join(config.exportsDir, `${id}.tgz`) };
    await mkdir(config.exportsDir, { recursive: true });
    // tar needs the directory even when the user has uploaded nothing yet.
    await mkdir(join(config.uploadsDir, owner), { recursive: true });
    jobs.set(id, job);
    execFile(
      'tar',
      ['-czf', job.file, '-C', config.dataDir, `uploads/${owner}`],
      { timeout: 60_000 },
      (error) => {
        job.status = error ? 'failed' : 'done';
        if (error) job.error = error.message;
      },
    );
    res.status(202).json({ id, status: job.status });
  });

  app.get('/export/:id', requireUser, async (req, res) => {
    const job = jobs.get(pathParam(req, 'id') ?? '');
    if (!job || job.owner !== currentUser(req)) {
      res.status(404).json({ error: 'no such export' });
      return;
    }
    const size = job.status === 'done' ? (await stat(job.file)).size : undefined;
    res.json({ id: job.id, status: job.status, size, error: job.error });
  });
}
