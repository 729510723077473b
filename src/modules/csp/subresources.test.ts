import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createSubresourceLinks,
  type Fact,
  MAX_FACTS,
  MAX_RESOURCES,
  resourceName,
} from './subresources.ts';

function recorder() {
  const seen = new Set<string>();
  const links = createSubresourceLinks((route, [directive, source]) =>
    seen.add(`${route} ${directive} ${source}`),
  );
  return { links, seen: () => [...seen].sort() };
}

const SELF_CONNECT: Fact = ['connect-src', "'self'"];

test('a page that includes a script gets what the script loaded on another page, whichever came first', () => {
  const before = recorder();
  before.links.load('/static/app.js', SELF_CONNECT);
  before.links.include('/about', '/static/app.js');
  assert.deepEqual(before.seen(), ["/about connect-src 'self'"]);

  const after = recorder();
  after.links.include('/about', '/static/app.js');
  after.links.include('/', '/static/app.js');
  assert.deepEqual(after.seen(), []);
  after.links.load('/static/app.js', SELF_CONNECT);
  assert.deepEqual(after.seen(), ["/ connect-src 'self'", "/about connect-src 'self'"]);
});

test('a page gets nothing of a script it does not include', () => {
  const { links, seen } = recorder();
  links.include('/about', '/static/about.js');
  links.load('/static/app.js', SELF_CONNECT);
  assert.deepEqual(seen(), []);
});

test('what a script inserts or a stylesheet imports counts for the pages of its parent, through cycles', () => {
  const { links, seen } = recorder();
  links.include('/about', '/static/app.js');
  links.load('/static/widget.js', ['img-src', 'https://img.example']);
  links.load('/static/app.js', ['script-src', "'self'"], '/static/widget.js');
  links.load('/static/widget.js', ['script-src', "'self'"], '/static/app.js');
  links.load('/static/widget.js', ['font-src', "'self'"]);
  assert.deepEqual(seen(), [
    "/about font-src 'self'",
    '/about img-src https://img.example',
    "/about script-src 'self'",
  ]);
});

test('memory is bounded: past the limits nothing more is linked', () => {
  const { links, seen } = recorder();
  for (let i = 0; i < MAX_RESOURCES + 10; i++) links.load(`/static/${i}.js`, SELF_CONNECT);
  links.include('/late', `/static/${MAX_RESOURCES + 5}.js`);
  assert.deepEqual(seen(), []);
  const many = recorder();
  for (let i = 0; i < MAX_FACTS + 10; i++) many.links.load('/a.js', ['img-src', `https://h${i}`]);
  many.links.include('/p', '/a.js');
  assert.equal(many.seen().length, MAX_FACTS);
});

test('a subresource is named by its path on the page origin, else by origin and path; never the page itself', () => {
  const page = 'http://127.0.0.1:8080/about?tab=1';
  assert.equal(resourceName('/static/app.js?v=3#x', page), '/static/app.js');
  assert.equal(resourceName('static/app.js', 'http://h/shop/item'), '/shop/static/app.js');
  assert.equal(
    resourceName('https://cdn.example/js/a.js?v=1', page),
    'https://cdn.example/js/a.js',
  );
  assert.equal(resourceName('http://127.0.0.1:8080/about', page), undefined);
  assert.equal(resourceName('data:text/javascript,1', page), undefined);
  assert.equal(resourceName('http://[bad', page), undefined);
});
