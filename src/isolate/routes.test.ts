import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routeTable } from './routes.ts';

const NOTES = routeTable([
  'GET /notes',
  'GET /notes/:id',
  'GET /notes/shared',
  'GET /notes/*',
  'POST /notes',
  'DELETE /notes/:id',
  '@startup',
  '@background',
]);

test('a literal segment beats a parameter, a parameter beats a wildcard, whatever the order given', () => {
  for (const table of [
    NOTES,
    routeTable(['GET /notes/*', 'GET /notes/:id', 'GET /notes/shared']),
    routeTable(['GET /notes/shared', 'GET /notes/:id', 'GET /notes/*']),
  ]) {
    assert.deepEqual(table.match('GET', '/notes/shared'), {
      route: 'GET /notes/shared',
      params: {},
    });
    assert.deepEqual(table.match('GET', '/notes/42'), {
      route: 'GET /notes/:id',
      params: { id: '42' },
    });
    assert.deepEqual(table.match('GET', '/notes/42/attachments'), {
      route: 'GET /notes/*',
      params: { '*': '42/attachments' },
    });
  }
});

test('scopes that are not routes are left out of the table', () => {
  assert.ok(!NOTES.routes.includes('@startup'));
  assert.ok(!NOTES.routes.includes('@background'));
  assert.equal(NOTES.routes.length, 6);
  assert.equal(NOTES.match('GET', '@startup'), undefined);
});

test('HEAD is answered by a GET route when there is no HEAD route', () => {
  assert.deepEqual(NOTES.match('HEAD', '/notes/7'), {
    route: 'GET /notes/:id',
    params: { id: '7' },
  });
  const table = routeTable(['GET /notes', 'HEAD /notes']);
  assert.equal(table.match('HEAD', '/notes')?.route, 'HEAD /notes');
  // The fallback goes one way only.
  assert.equal(routeTable(['HEAD /notes']).match('GET', '/notes'), undefined);
});

/** Routes without a wildcard. */
const PLAIN = routeTable(['GET /notes', 'GET /notes/:id', 'GET /notes/shared']);

test('the query string is ignored', () => {
  assert.deepEqual(PLAIN.match('GET', '/notes?owner=alice&x=/y'), {
    route: 'GET /notes',
    params: {},
  });
  assert.deepEqual(PLAIN.match('GET', '/notes/9?full=1'), {
    route: 'GET /notes/:id',
    params: { id: '9' },
  });
});

test('a trailing slash matches the route without one, and a route written with one', () => {
  assert.equal(PLAIN.match('GET', '/notes/')?.route, 'GET /notes');
  assert.deepEqual(PLAIN.match('GET', '/notes/9/'), {
    route: 'GET /notes/:id',
    params: { id: '9' },
  });
  assert.equal(routeTable(['GET /users/']).match('GET', '/users')?.route, 'GET /users/');
});

test('the root route matches / alone', () => {
  const table = routeTable(['GET /', 'GET /:page']);
  assert.deepEqual(table.match('GET', '/'), { route: 'GET /', params: {} });
  assert.deepEqual(table.match('GET', '/about'), {
    route: 'GET /:page',
    params: { page: 'about' },
  });
});

test('Hapi’s {id} parameters match like :id', () => {
  const table = routeTable(['GET /notes/{id}', 'GET /notes/{id}/tags/{tag}']);
  assert.deepEqual(table.match('GET', '/notes/3'), {
    route: 'GET /notes/{id}',
    params: { id: '3' },
  });
  assert.deepEqual(table.match('GET', '/notes/3/tags/red'), {
    route: 'GET /notes/{id}/tags/{tag}',
    params: { id: '3', tag: 'red' },
  });
});

test('a rest wildcard takes the rest of the path, however deep', () => {
  const table = routeTable(['GET /static/*', 'GET /files/{path*}', 'GET /assets/*rest']);
  assert.deepEqual(table.match('GET', '/static/css/site.css'), {
    route: 'GET /static/*',
    params: { '*': 'css/site.css' },
  });
  assert.deepEqual(table.match('GET', '/files/a/b.txt'), {
    route: 'GET /files/{path*}',
    params: { path: 'a/b.txt' },
  });
  assert.deepEqual(table.match('GET', '/assets/x.png'), {
    route: 'GET /assets/*rest',
    params: { rest: 'x.png' },
  });
});

test('parameters are decoded; a segment that does not decode matches no parameter', () => {
  assert.deepEqual(NOTES.match('GET', '/notes/a%20b'), {
    route: 'GET /notes/:id',
    params: { id: 'a b' },
  });
  assert.deepEqual(NOTES.match('GET', '/notes/%E0%A4%A'), {
    route: 'GET /notes/*',
    params: { '*': '%E0%A4%A' },
  });
});

test('an optional parameter matches with and without its segment', () => {
  const table = routeTable(['GET /notes/:id?']);
  assert.deepEqual(table.match('GET', '/notes/5'), {
    route: 'GET /notes/:id?',
    params: { id: '5' },
  });
  assert.deepEqual(table.match('GET', '/notes'), { route: 'GET /notes/:id?', params: {} });
});

test('a path no route matches gives undefined', () => {
  assert.equal(NOTES.match('GET', '/users'), undefined);
  assert.equal(NOTES.match('GET', '/'), undefined);
  assert.equal(routeTable(['GET /notes/:id']).match('GET', '/notes/1/2'), undefined);
  assert.equal(routeTable(['GET /notes/:id']).match('GET', '/notes'), undefined);
  assert.equal(routeTable([]).match('GET', '/'), undefined);
});

test('a path of a route of another method gives undefined', () => {
  assert.equal(NOTES.match('PUT', '/notes/1'), undefined);
  assert.equal(NOTES.match('PATCH', '/notes'), undefined);
  assert.deepEqual(NOTES.match('DELETE', '/notes/1'), {
    route: 'DELETE /notes/:id',
    params: { id: '1' },
  });
  assert.equal(NOTES.match('POST', '/notes')?.route, 'POST /notes');
});

test('a literal route is not taken for a wildcard or optional route one segment longer', () => {
  assert.deepEqual(NOTES.match('GET', '/notes'), { route: 'GET /notes', params: {} });
  assert.deepEqual(routeTable(['GET /notes', 'GET /notes/:id?']).match('GET', '/notes'), {
    route: 'GET /notes',
    params: {},
  });
});
