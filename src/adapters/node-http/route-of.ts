/**
 * @module
 * The scope of a request to a plain `node:http` service, which has no route table: the method and
 * the path with id-like segments (numbers, UUIDs, long hex) replaced by `:id`, query dropped.
 */
const ID_SEGMENT =
  /^(\d+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{16,})$/i;

export function normalisedRoute(method: string | undefined, url: string | undefined): string {
  const path = (url ?? '/').split(/[?#]/, 1)[0] || '/';
  const segments = path.split('/').map((segment) => (ID_SEGMENT.test(segment) ? ':id' : segment));
  return `${method ?? 'GET'} ${segments.join('/')}`;
}

/** The values of the id-like segments `normalisedRoute` writes as `:id`: `id`, `id2`, `id3`… */
export function pathParams(url: string | undefined): Record<string, string> | undefined {
  const path = (url ?? '/').split(/[?#]/, 1)[0] || '/';
  let params: Record<string, string> | undefined;
  let n = 0;
  for (const segment of path.split('/')) {
    if (!ID_SEGMENT.test(segment)) continue;
    n++;
    params ??= {};
    params[n === 1 ? 'id' : `id${n}`] = segment;
  }
  return params;
}
