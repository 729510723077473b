import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startApp, type TestApp } from './app.ts';

let app: TestApp;
before(async () => {
  app = await startApp();
});
after(() => app.close());

test('upload a file, list it and download it', async () => {
  const erin = await app.login('erin');
  assert.deepEqual((await erin.request('GET', '/files')).json(), []);

  const upload = await erin.request('POST', '/upload?name=report.txt', {
    raw: 'quarterly numbers',
  });
  assert.equal(upload.status, 201);
  assert.deepEqual(upload.json(), { name: 'report.txt', size: 17 });

  assert.deepEqual((await erin.request('GET', '/files')).json(), ['report.txt']);
  const download = await erin.request('GET', '/files/report.txt');
  assert.equal(download.status, 200);
  assert.equal(download.text, 'quarterly numbers');
});

test("uploads are per user: another user sees none of erin's files", async () => {
  const frank = await app.login('frank');
  assert.deepEqual((await frank.request('GET', '/files')).json(), []);
  assert.equal((await frank.request('GET', '/files/report.txt')).status, 404);
});

test('a file name that could leave the upload directory is refused', async () => {
  const erin = await app.login('erin');
  const res = await erin.request('POST', '/upload?name=..%2Fescape.txt', { raw: 'x' });
  assert.equal(res.status, 400);
});
