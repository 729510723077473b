/**
 * @module
 * DELIBERATELY VULNERABLE ROUTES. They exist so that leash has real attacks to stop: each has a
 * legitimate use (which the workloads exercise, so leash learns it) and a bug an attacker can use
 * to do something that use never needs. Never copy this code.
 */
import { exec } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { Express } from 'express';
import { requireUser } from '../auth.ts';
import type { Config } from '../config.ts';
import { queryParam } from '../params.ts';
import { renderPage } from '../views.ts';

export function registerVulnerable(app: Express, config: Config): void {
  // Legit: `?file=alice/todo.txt` downloads an upload.
  // VULNERABLE (path traversal): the name is joined to the uploads directory without any check,
  // so `?file=../../../../etc/passwd` reads any file the process can read.
  app.get('/download', requireUser, async (req, res) => {
    const file = queryParam(req, 'file');
    if (file === undefined) {
      res.status(400).json({ error: '?file= is required' });
      return;
    }
    try {
      const content = await readFile(join(config.uploadsDir, file));
      res.type(extname(file) || 'bin').send(content);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      res.status(404).json({ error: 'no such file' });
    }
  });

  // Legit: an administrator sets `motd.txt` and friends in the data directory.
  // VULNERABLE (arbitrary file write): no role check, and the path is used as given (relative
  // paths resolve against the data directory, absolute ones go anywhere).
  app.post('/admin/write', requireUser, async (req, res) => {
    const { path, content } = (req.body ?? {}) as { path?: unknown; content?: unknown };
    if (typeof path !== 'string' || typeof content !== 'string') {
      res.status(400).json({ error: 'path and content are required' });
      return;
    }
    const target = resolve(config.dataDir, path);
    await writeFile(target, content);
    res.json({ written: target, size: Buffer.byteLength(content) });
  });

  // Legit: `?host=localhost` resolves a host name (getent reads /etc/hosts for the names the
  // workloads use, so no DNS query leaves the machine).
  // VULNERABLE (command injection): the input is pasted into a shell string, so
  // `?host=127.0.0.1; touch /tmp/x` runs a second command.
  app.get('/ping', requireUser, (req, res) => {
    const host = queryParam(req, 'host');
    if (host === undefined) {
      res.status(400).json({ error: '?host= is required' });
      return;
    }
    exec('getent hosts ' + host, { timeout: 5000 }, (error, stdout) => {
      if (error) {
        res.status(502).json({ host, error: error.message });
        return;
      }
      res.json({ host, output: stdout.trim() });
    });
  });

  // Legit: a link preview of one of the service's own pages.
  // VULNERABLE (SSRF): any URL is fetched from inside the network, including internal services
  // such as the metadata endpoint.
  app.get('/preview', requireUser, async (req, res) => {
    const url = queryParam(req, 'url');
    if (url === undefined || !URL.canParse(url)) {
      res.status(400).json({ error: 'a URL is required in ?url=' });
      return;
    }
    const answer = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: 'manual' });
    const text = await answer.text();
    res.json({
      url,
      status: answer.status,
      contentType: answer.headers.get('content-type'),
      snippet: text.slice(0, 2000),
    });
  });

  // Legit: `?name=ann` greets ann.
  // VULNERABLE (reflected XSS): the name goes into the page unescaped, so
  // `?name=<script>…</script>` runs the attacker's script in the page of whoever opens the link.
  app.get('/hello', async (req, res) => {
    const html = await renderPage(
      config.viewsDir,
      'hello',
      { title: 'Hello', user: req.session.user ?? 'guest' },
      { name: queryParam(req, 'name') ?? 'there' },
    );
    res.type('html').send(html);
  });
}
