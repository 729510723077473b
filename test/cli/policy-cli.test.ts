// The `leash policy` commands, run as a user runs them: the real bin in a child process.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SINGLE_PROCESS_LIMIT } from '../support/processes.ts';

const BIN = fileURLToPath(new URL('../../bin/leash.js', import.meta.url));

function leash(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    ...SINGLE_PROCESS_LIMIT,
    env: { ...process.env, NO_COLOR: '1', LEASH_MODE: '', LEASH_POLICY: '', LEASH_CONFIG: '' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function workdir(files: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'leash-cli-'));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(
      join(dir, name),
      typeof content === 'string' ? content : `${JSON.stringify(content, null, 2)}\n`,
    );
  }
  return dir;
}

const narrow = {
  version: 1,
  runtime: { 'GET /notes/:id': { app: { 'fs.read': ['/srv/app/views/note.html'] } } },
};
const broad = {
  version: 1,
  runtime: {
    'GET /notes/:id': { app: { 'fs.read': ['/srv/app/views/note.html', '/srv/data/notes.db'] } },
    'POST /upload': { app: { 'fs.write': ['/srv/data/uploads/*.png'] } },
  },
};

test('--version prints the package version and --help lists the policy commands', () => {
  const dir = workdir();
  const { version } = JSON.parse(
    readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
  );
  assert.equal(leash(dir, '--version').stdout.trim(), version);
  const help = leash(dir, 'policy', '--help');
  assert.equal(help.code, 0);
  for (const command of ['show', 'diff', 'merge', 'simplify', 'lint', 'review'])
    assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
});

test('lint on a file with a JSON syntax error prints file:line:col and a reason, exit 2, no stack', () => {
  const dir = workdir({
    'leash.policy.json':
      '{\n  "version": 1,\n  "runtime": {\n    "GET /": { "app": { "fs.read": ["/a",] } }\n  }\n}\n',
  });
  const { code, stderr, stdout } = leash(dir, 'policy', 'lint');
  assert.equal(code, 2);
  assert.equal(stdout, '');
  assert.match(stderr, /^leash: leash\.policy\.json:4:\d+: invalid JSON: /);
  assert.equal(stderr.trim().split('\n').length, 1, stderr);
  assert.doesNotMatch(stderr, /\s+at /);
});

test('lint names the JSON path and what was expected for a wrong shape', () => {
  const cases: Array<[unknown, RegExp]> = [
    [
      { version: 2 },
      /leash\.policy\.json:2:\d+: \$\.version: unknown version 2: this leash reads version 1/,
    ],
    [{ runtime: {} }, /missing "version"/],
    [
      { version: 1, runtime: { 'GET /': { app: { 'fs.read': [42] } } } },
      /\$\.runtime\["GET \/"\]\.app\["fs\.read"\]/,
    ],
    [
      { version: 1, runtime: { 'GET /': { app: { 'fs.raed': ['/a'] } } } },
      /invalid capability "fs\.raed": unknown capability/,
    ],
    [
      { version: 1, runtime: { 'GET /': { app: { 'fs.read': ['/srv/{a,b}'] } } } },
      /\$\.runtime\["GET \/"\]\.app\["fs\.read"\]\[0\]: invalid path .*'\{' is not supported/,
    ],
    [
      { version: 1, mail: {} },
      /unknown module section "mail" \(known modules: csp, runtime, sql\)/,
    ],
  ];
  for (const [content, expected] of cases) {
    const dir = workdir({ 'leash.policy.json': content });
    const { code, stderr } = leash(dir, 'policy', 'lint');
    assert.equal(code, 2, stderr);
    assert.match(stderr, expected);
    assert.equal(stderr.trim().split('\n').length, 1);
  }
});

test('lint warns about rules broader than leash would learn, exit 1; a clean policy exits 0', () => {
  const dir = workdir({
    'leash.policy.json': {
      version: 1,
      runtime: {
        '*': {
          app: { 'fs.read': ['/**', '/srv/app/views/note.html'], 'net.connect': ['*.com:443'] },
        },
      },
    },
    'clean.json': narrow,
  });
  const { code, stdout } = leash(dir, 'policy', 'lint');
  assert.equal(code, 1);
  assert.match(stdout, /warning runtime: \* › app › fs\.read › \/\*\*: /);
  assert.match(stdout, /warning runtime: \* › app › net\.connect › \*\.com:443: /);
  assert.match(stdout, /warning runtime: \*: '\*' allows every scope/);
  assert.equal(leash(dir, 'policy', 'lint', 'clean.json').code, 0);
});

test('diff exits 1 and lists the extra grants when b is broader, 0 otherwise', () => {
  const dir = workdir({ 'a.json': narrow, 'b.json': broad });
  const wider = leash(dir, 'policy', 'diff', 'a.json', 'b.json');
  assert.equal(wider.code, 1);
  assert.match(wider.stdout, /b\.json grants 2 rules that a\.json does not/);
  assert.match(
    wider.stdout,
    /\+ runtime: GET \/notes\/:id › app › fs\.read › \/srv\/data\/notes\.db/,
  );
  assert.match(
    wider.stdout,
    /\+ runtime: POST \/upload › app › fs\.write › \/srv\/data\/uploads\/\*\.png/,
  );
  const narrower = leash(dir, 'policy', 'diff', 'b.json', 'a.json');
  assert.equal(narrower.code, 0, narrower.stdout);
  assert.match(narrower.stdout, /grants nothing that b\.json does not \(it drops 2 rules\)/);
  assert.equal(leash(dir, 'policy', 'diff', 'a.json', 'a.json').code, 0);
  const json = leash(dir, 'policy', 'diff', '--json', 'a.json', 'b.json');
  assert.equal(JSON.parse(json.stdout).added.length, 2);
});

test('diff of a policy whose pattern already grants the other one exits 0', () => {
  const dir = workdir({
    'wide.json': {
      version: 1,
      runtime: { 'POST /upload': { app: { 'fs.write': ['/srv/data/uploads/*.png'] } } },
    },
    'one.json': {
      version: 1,
      runtime: { 'POST /upload': { app: { 'fs.write': ['/srv/data/uploads/7.png'] } } },
    },
  });
  assert.equal(leash(dir, 'policy', 'diff', 'wide.json', 'one.json').code, 0);
  assert.equal(leash(dir, 'policy', 'diff', 'one.json', 'wide.json').code, 1);
});

test('merge writes the union, sorted, and show prints it as a tree filtered by module and scope', () => {
  const dir = workdir({ 'a.json': narrow, 'b.json': broad });
  const merged = leash(dir, 'policy', 'merge', 'a.json', 'b.json', '-o', 'out.json');
  assert.equal(merged.code, 0, merged.stderr);
  const text = readFileSync(join(dir, 'out.json'), 'utf8');
  assert.deepEqual(JSON.parse(text), broad);
  const show = leash(dir, 'policy', 'show', 'out.json', '--scope', 'POST /upload');
  assert.equal(show.code, 0);
  assert.match(show.stdout, /runtime {2}1 rule · scope › package › capability › resource/);
  assert.match(
    show.stdout,
    /^ {2}POST \/upload\n {4}app\n {6}fs\.write\n {8}\/srv\/data\/uploads\/\*\.png$/m,
  );
  assert.doesNotMatch(show.stdout, /GET/);
  assert.equal(leash(dir, 'policy', 'show', 'out.json', '--module', 'nope').code, 2);
});

test('simplify collapses in place using the configured data directories', () => {
  const files = ['1.png', '2.png', '3.png'].map((f) => `/srv/data/u/${f}`);
  const dir = workdir({
    'leash.config.json': { dataDirs: ['/srv/data'] },
    'leash.policy.json': { version: 1, runtime: { 'GET /': { app: { 'fs.read': files } } } },
  });
  const result = leash(dir, 'policy', 'simplify');
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stdout, /leash\.policy\.json: 3 → 1 rules/);
  const after = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8'));
  assert.deepEqual(after.runtime['GET /'].app['fs.read'], ['/srv/data/u/*.png']);
});

test('simplify without the data directory in config leaves the files alone', () => {
  const files = ['1.png', '2.png', '3.png'].map((f) => `/srv/data/u/${f}`);
  const dir = workdir({
    'leash.policy.json': { version: 1, runtime: { 'GET /': { app: { 'fs.read': files } } } },
  });
  leash(dir, 'policy', 'simplify');
  const after = JSON.parse(readFileSync(join(dir, 'leash.policy.json'), 'utf8'));
  assert.deepEqual(after.runtime['GET /'].app['fs.read'], files);
});

test('a bad config is one clear line with exit 2', () => {
  const dir = workdir({ 'leash.config.json': { threshold: 1 }, 'leash.policy.json': narrow });
  const { code, stderr } = leash(dir, 'policy', 'show');
  assert.equal(code, 2);
  assert.match(stderr, /leash\.config\.json: threshold: threshold must be at least 2/);
});

test('an unknown command or a missing file is one line and a non-zero exit', () => {
  const dir = workdir();
  const unknown = leash(dir, 'polciy');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'polciy'/);
  const missing = leash(dir, 'policy', 'show', 'nope.json');
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr.trim(), 'leash: nope.json: cannot read policy: no such file');
});

test('show --module sql lists ambiguous slots, where several sources always held', () => {
  const dir = workdir({
    'p.json': {
      version: 1,
      sql: {
        'GET /notes/:id': {
          'SELECT * FROM notes WHERE id = $1': {
            $1: ['=request.params.id & =result.tAbc12345.id'],
          },
          'SELECT * FROM notes WHERE owner = $1': { $1: ['=principal'] },
        },
      },
    },
  });
  const { code, stdout } = leash(dir, 'policy', 'show', 'p.json', '--module', 'sql');
  assert.equal(code, 0);
  const notes = stdout.split('\n').filter((line) => line.includes('note '));
  assert.deepEqual(notes, [
    '  note ambiguous slot $1 of "SELECT * FROM notes WHERE id = $1" in GET /notes/:id: every one of =request.params.id & =result.tAbc12345.id held',
  ]);
});

test('export csp and show --module csp print each page route’s policy as a header to paste', () => {
  const hash = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='";
  const dir = workdir({
    'p.json': {
      version: 1,
      csp: {
        '/notes/:id': {
          'img-src': ["'self'", 'https://images.example.org'],
          'script-src': [hash, 'https://cdn.example.org/js/'],
        },
      },
    },
    'none.json': narrow,
  });
  const exported = leash(dir, 'export', 'csp', '--policy', 'p.json');
  assert.equal(exported.code, 0, exported.stderr);
  const [comment, header] = exported.stdout.trim().split('\n');
  assert.equal(comment, '# /notes/:id');
  assert.match(header!, /^Content-Security-Policy: default-src 'none'; /);
  assert.match(
    header!,
    new RegExp(`script-src ${hash.replace(/[+/]/g, '\\$&')} https://cdn\\.example\\.org/js/;`),
  );
  assert.match(header!, /img-src 'self' https:\/\/images\.example\.org;/);
  // object-src says what default-src says and is left out; worker-src would fall back to
  // script-src's sources, so its 'none' stays.
  assert.doesNotMatch(header!, /object-src/);
  assert.match(header!, /worker-src 'none'/);
  const shown = leash(dir, 'policy', 'show', 'p.json', '--module', 'csp');
  assert.ok(shown.stdout.includes(`note /notes/:id: ${header}`), shown.stdout);
  const empty = leash(dir, 'export', 'csp', '--policy', 'none.json');
  assert.equal(empty.code, 2);
  assert.equal(empty.stderr.trim(), 'leash: none.json: no csp rules to export; learn them first');
});

test("lint runs Google's CSP Evaluator over each page route's policy", () => {
  const hash = "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='";
  const dir = workdir({
    'strict.json': {
      version: 1,
      csp: { '/notes/:id': { 'script-src': [hash], 'img-src': ["'self'"] } },
    },
    'loose.json': {
      version: 1,
      csp: {
        '/legacy': { 'script-src': ["'unsafe-inline'", 'https:'] },
        // Learned because a page really used eval: allowed, and flagged for a person to look at.
        '/charts': { 'script-src': [hash, "'unsafe-eval'"] },
      },
    },
  });
  const strict = leash(dir, 'policy', 'lint', 'strict.json');
  assert.equal(strict.code, 0, strict.stdout);
  assert.doesNotMatch(strict.stdout, /CSP Evaluator \((high|medium)/);
  const loose = leash(dir, 'policy', 'lint', 'loose.json');
  assert.equal(loose.code, 1);
  assert.match(
    loose.stdout,
    /warning csp: \/legacy › script-src: CSP Evaluator \(high\) 'unsafe-inline': /,
  );
  assert.match(loose.stdout, /warning csp: \/legacy › script-src: CSP Evaluator \(high\) https:: /);
  assert.match(
    loose.stdout,
    /warning csp: \/charts › script-src: CSP Evaluator \(possibly medium\) 'unsafe-eval': /,
  );
});

test('show --groups prints the worker groups --isolate makes, with the config’s together lists', () => {
  const policy = {
    version: 1,
    runtime: {
      'GET /files/:name': { app: { 'fs.read': ['/srv/data/uploads/*'] } },
      'GET /files': { app: { 'fs.read': ['/srv/data/uploads/*'] } },
      'POST /export': { app: { 'fs.write': ['/srv/data/exports/*'] } },
      '@startup': { app: { 'net.listen': ['127.0.0.1:8080'] } },
    },
    sql: { 'GET /export/:id': { 'SELECT 1': {} } },
  };
  const plain = leash(workdir({ 'leash.policy.json': policy }), 'policy', 'show', '--groups');
  assert.equal(plain.code, 0, plain.stderr);
  assert.equal(
    plain.stdout,
    [
      '  g1: GET /files, GET /files/:name — 1 grant: app fs.read /srv/data/uploads/*',
      '  g2: POST /export — 1 grant: app fs.write /srv/data/exports/*',
      '  unprivileged: GET /export/:id — no grants of its own',
      '',
    ].join('\n'),
  );
  const together = leash(
    workdir({
      'leash.policy.json': policy,
      'leash.config.json': { isolate: { together: [['POST /export', 'GET /export/:id']] } },
    }),
    'policy',
    'show',
    '--groups',
  );
  assert.equal(together.code, 0, together.stderr);
  assert.match(together.stdout, /g1: GET \/export\/:id, POST \/export — 1 grant/);
  assert.match(together.stdout, /unprivileged: \(requests that match no route\)/);
});
