/**
 * @module
 * Reading request inputs: a single query string value and a note id.
 */
import type { Request } from 'express';

/** The query parameter as one non-empty string, or undefined (absent, empty or repeated). */
export function queryParam(req: Request, name: string): string | undefined {
  const value = req.query[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A positive integer id, or undefined for anything else (`1.5`, `1e3`, `abc`). */
export function parseId(text: string | undefined): number | undefined {
  if (text === undefined || !/^[1-9]\d{0,15}$/.test(text)) return undefined;
  return Number(text);
}

/** A named route parameter (`:name`) as a string; Express 5 types them loosely. */
export function pathParam(req: Request, name: string): string | undefined {
  const value: unknown = req.params[name];
  return typeof value === 'string' ? value : undefined;
}
