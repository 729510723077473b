/**
 * @module
 * The Express application: middleware, the routes of every feature, and error handling.
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { registerAuth, sessions } from './auth.ts';
import type { Config } from './config.ts';
import type { Store } from './db.ts';
import { registerExport } from './routes/export.ts';
import { registerFiles } from './routes/files.ts';
import { registerNotes } from './routes/notes.ts';
import { registerPages } from './routes/pages.ts';
import { registerSqlLegacy } from './routes/sql-legacy.ts';
import { registerVulnerable } from './routes/vulnerable.ts';
import { registerWeather } from './routes/weather.ts';

export function createApp(config: Config, store: Store): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  app.use(sessions(config.sessionSecret));
  app.use('/static', express.static(config.publicDir));

  registerAuth(app, store);
  registerPages(app, store, config);
  registerNotes(app, store);
  registerFiles(app, config.uploadsDir);
  registerWeather(app, config.partnerUrl);
  registerExport(app, config);
  registerVulnerable(app, config);
  registerSqlLegacy(app, store);

  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: 'not found' });
  });
  // Express 5 sends rejected promises of async handlers here too.
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`${req.method} ${req.originalUrl}: ${message}`);
    if (res.headersSent) return;
    const status = (error as { status?: unknown }).status;
    res.status(typeof status === 'number' && status >= 400 ? status : 500).json({ error: message });
  });
  return app;
}
