/**
 * @module
 * The one outbound call the service makes on purpose: the partner API's forecast.
 */
import type { Express } from 'express';
import { queryParam } from '../params.ts';

export function registerWeather(app: Express, partnerUrl: string): void {
  app.get('/weather', async (req, res) => {
    const city = queryParam(req, 'city');
    if (city === undefined) {
      res.status(400).json({ error: '?city= is required' });
      return;
    }
    const url = new URL('/forecast', partnerUrl);
    url.searchParams.set('city', city);
    const answer = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!answer.ok) {
      res.status(502).json({ error: `partner answered ${answer.status}` });
      return;
    }
    res.json(await answer.json());
  });
}
