// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are shell text, where ${X} is literal
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { quote } from 'shell-quote';
import { fc } from '../../../test/support/fast-check.ts';
import type { SimplifyOptions } from '../kind.ts';
import { add, allows, createTree, rules, simplify } from '../tree.ts';
import { commandKind, isPlainWord, quoteWord } from './command.ts';
import { literalKind } from './literal.ts';

const kind = commandKind();
const options: SimplifyOptions = { threshold: 3, roots: ['/tmp', '/srv/data'], homes: [] };
const noRoots: SimplifyOptions = { threshold: 3, roots: [], homes: [] };

function collapse(keys: string[], opts: SimplifyOptions = options) {
  return kind.collapse([...keys].sort(), opts);
}

/** The single pattern a group of facts collapses into, or undefined. */
function collapsesTo(facts: string[], opts: SimplifyOptions = options): string | undefined {
  const groups = collapse(
    facts.map((f) => kind.key(f)),
    opts,
  );
  if (groups.length === 0) return undefined;
  assert.equal(groups.length, 1, JSON.stringify(groups));
  const group = groups[0]!;
  assert.equal(group.members.length, facts.length);
  for (const m of group.members)
    assert.equal(kind.covers(group.pattern, m), true, `${group.pattern} ⊇ ${m}`);
  for (const f of facts)
    assert.equal(kind.matches(group.pattern, f), true, `${group.pattern} ∋ ${f}`);
  return group.pattern;
}

describe('command kind: keys', () => {
  it('re-quotes tokens canonically', () => {
    assert.equal(kind.key('ping  -c 1   127.0.0.1'), 'ping -c 1 127.0.0.1');
    assert.equal(
      kind.key('ping -c 1 127.0.0.1;cat /etc/passwd'),
      'ping -c 1 127.0.0.1 ; cat /etc/passwd',
    );
    assert.equal(kind.key(`echo "hello world" 'x'`), "echo 'hello world' x");
    assert.equal(kind.key(`echo "it's"`), "echo it\\'s");
    assert.equal(kind.key('echo ""'), "echo ''");
  });

  it('gives equal keys to equal argument vectors, with or without a shell', () => {
    const argv = ['tar', '-czf', '/tmp/my export.tgz', 'a;b', "it's", '$HOME', '{num}'];
    const viaQuote = kind.key(quote(argv));
    assert.equal(viaQuote, kind.key(`tar -czf '/tmp/my export.tgz' 'a;b' "it's" '$HOME' '{num}'`));
    assert.equal(viaQuote, "tar -czf '/tmp/my export.tgz' 'a;b' it\\'s '$HOME' '{num}'");
  });

  it('escapes placeholder text so a concrete fact never becomes a pattern', () => {
    for (const fact of [
      'echo {num}',
      'echo {arg}',
      'echo {path:/tmp/*}',
      "echo '{num}'",
      'echo \\{arg\\}',
      'cp {path:/a} x',
    ]) {
      const key = kind.key(fact);
      assert.equal(kind.isPattern(key), false, `${fact} → ${key}`);
      assert.equal(kind.validate(key), undefined, key);
      assert.equal(kind.matches(key, fact), true, key);
      assert.equal(kind.matches(key, 'echo 42'), false, key);
    }
    assert.equal(kind.key('echo {num}'), "echo '{num}'");
    // Unquoted, `*` makes the word a glob: an operator token, its braces escaped.
    assert.equal(kind.key('echo {path:/tmp/*}'), 'echo \\{path:/tmp/*\\}');
    assert.equal(kind.key("echo '{path:/tmp/*}'"), "echo '{path:/tmp/*}'");
  });

  it('reads a newline or carriage return as a command separator', () => {
    assert.equal(kind.key('ping -c 1 a\ncat /etc/passwd'), 'ping -c 1 a ; cat /etc/passwd');
    assert.equal(kind.key('ping -c 1 a\r\nid'), 'ping -c 1 a ; id');
    assert.equal(kind.key('ping -c 1 a\rid'), 'ping -c 1 a ; id');
  });

  it('keeps expansions, substitutions, globs and comments as operator tokens', () => {
    assert.equal(kind.key('ping -c 1 $(id)'), 'ping -c 1 $ ( id )');
    assert.equal(kind.key('ping -c 1 `id`'), "ping -c 1 '`id`'");
    assert.equal(kind.key('echo ${HOME}/x $USER'), 'echo ${HOME}/x ${USER}');
    assert.equal(kind.key('echo "$(id)"'), 'echo $""\\(id\\)');
    assert.equal(kind.key('ls *.txt'), 'ls *.txt');
    assert.equal(kind.key("ls '*.txt'"), "ls '*.txt'");
    assert.equal(kind.key('echo hi # note'), 'echo hi # note');
  });

  it('stores a line the shell parser cannot read as an inert comment', () => {
    const fact = 'echo ${X:-$(id)}';
    const key = kind.key(fact);
    assert.equal(key, '# unparsed: "echo ${X:-$(id)}"');
    assert.equal(kind.isPattern(key), false);
    assert.equal(kind.validate(key), undefined);
    assert.equal(kind.matches(key, fact), true);
    assert.equal(kind.matches('echo {arg}', fact), false);
    assert.equal(kind.key(''), '# unparsed: ""');
  });
});

describe('command kind: matches', () => {
  const ping = 'ping -c 1 {arg}';

  it('a template matches a plain argument', () => {
    assert.equal(kind.isPattern(ping), true);
    assert.equal(kind.matches(ping, 'ping -c 1 127.0.0.2'), true);
    assert.equal(kind.matches(ping, "ping -c 1 'example.com'"), true);
    assert.equal(kind.matches(ping, quote(['ping', '-c', '1', 'example.com'])), true);
  });

  it('no injection matches a learned template', () => {
    for (const fact of [
      'ping -c 1 127.0.0.1; cat /etc/passwd',
      'ping -c 1 127.0.0.1\ncat /etc/passwd',
      'ping -c 1 127.0.0.1\rcat /etc/passwd',
      'ping -c 1 $(id)',
      'ping -c 1 "$(id)"',
      'ping -c 1 `id`',
      'ping -c 1 "`id`"',
      'ping -c 1 $HOME',
      'ping -c 1 ${HOME}',
      'ping -c 1 a && b',
      'ping -c 1 a || b',
      'ping -c 1 a | nc x',
      'ping -c 1 a & b',
      'ping -c 1 a > /tmp/x',
      'ping -c 1 a >> /tmp/x',
      'ping -c 1 a < /etc/passwd',
      'ping -c 1 <(id)',
      'ping -c 1 a b',
      'ping -c 1 -f',
      'ping -c 1 --help',
      'ping -c 1 *',
      'ping -c 1 a#b',
      'ping -c 1 a # b',
      'ping -c 1 (a)',
      'ping -c 1',
      'ping -c 2 a',
      'sudo ping -c 1 a',
    ]) {
      assert.equal(kind.matches(ping, fact), false, fact);
    }
  });

  it('{arg} is a plain word: no option, path, dot file, shell or glob syntax', () => {
    for (const word of [
      '127.0.0.1',
      'example.com',
      'user@host',
      'a=b',
      'a/b',
      'v1.2',
      'x_y-z',
      'é',
    ]) {
      assert.equal(isPlainWord(word), true, word);
      assert.equal(kind.matches('echo {arg}', `echo ${quoteWord(word)}`), true, word);
    }
    for (const word of [
      '-f',
      '--x',
      '/etc/passwd',
      '~/x',
      '.env',
      '../x',
      'a/../b',
      'a/.ssh',
      'a b',
      'a;b',
      '{a,b}',
      '[x]',
      'a*',
      "a'b",
      '$x',
      '',
      'a\tb',
    ]) {
      assert.equal(isPlainWord(word), false, word);
      assert.equal(kind.matches('echo {arg}', `echo ${quoteWord(word)}`), false, word);
    }
  });

  it('{num} is a word of digits', () => {
    assert.equal(kind.matches('ping -c {num} a', 'ping -c 10 a'), true);
    assert.equal(kind.matches('ping -c {num} a', 'ping -c 1e3 a'), false);
    assert.equal(kind.matches('ping -c {num} a', 'ping -c -1 a'), false);
    assert.equal(kind.matches('ping -c {num} a', "ping -c '' a"), false);
  });

  it('{path:glob} is an absolute path matched by a path glob', () => {
    const key = 'tar -czf {path:/tmp/export-*.tgz} {path:/srv/data/**}';
    assert.equal(kind.matches(key, 'tar -czf /tmp/export-1.tgz /srv/data/u1/notes'), true);
    assert.equal(
      kind.matches(key, quote(['tar', '-czf', '/tmp/export-my notes.tgz', '/srv/data/a b'])),
      true,
    );
    assert.equal(kind.matches(key, 'tar -czf /tmp/export-1.tgz /srv/data/../../etc/shadow'), false);
    assert.equal(kind.matches(key, 'tar -czf /tmp/export-1.tgz /srv/data/.env'), false);
    assert.equal(kind.matches(key, 'tar -czf /tmp/other.tgz /srv/data/u1'), false);
    assert.equal(kind.matches(key, 'tar -czf /tmp/export-1.tgz srv/data/u1'), false);
    assert.equal(kind.matches(key, 'tar -czf /tmp/export-*.tgz /srv/data/u1'), false);
    // bash would expand these into two arguments.
    assert.equal(kind.matches(key, 'tar -czf /tmp/export-{1,2}.tgz /srv/data/u1'), false);
    assert.equal(kind.matches(key, "tar -czf /tmp/export-1.tgz '/srv/data/[ab]'"), false);
  });

  it('operators must be equal, and are never matched by a placeholder', () => {
    assert.equal(kind.matches('ping -c 1 {arg} | grep ttl', 'ping -c 1 a | grep ttl'), true);
    assert.equal(kind.matches('ping -c 1 {arg} | grep ttl', 'ping -c 1 a || grep ttl'), false);
    assert.equal(kind.matches('ls {arg} > {path:/tmp/*.txt}', 'ls a > /tmp/x.txt'), true);
    assert.equal(kind.matches('ls {arg} > {path:/tmp/*.txt}', 'ls a >> /tmp/x.txt'), false);
    assert.equal(kind.matches('ls {arg} {arg}', 'ls a ;'), false);
  });
});

describe('command kind: covers', () => {
  it('is reflexive, even for escaped and unparsed keys', () => {
    for (const key of [
      'ping -c 1 {arg}',
      "echo '{num}'",
      '# unparsed: "x"',
      'ls *.txt',
      'echo {path:/tmp/*}',
    ]) {
      assert.equal(kind.covers(key, key), true, key);
    }
  });

  it('relates placeholders', () => {
    assert.equal(kind.covers('echo {arg}', 'echo {num}'), true);
    assert.equal(kind.covers('echo {num}', 'echo {arg}'), false);
    assert.equal(kind.covers('echo {arg}', 'echo {path:/tmp/*}'), false);
    assert.equal(kind.covers('echo {path:/tmp/**}', 'echo {path:/tmp/*.txt}'), true);
    assert.equal(kind.covers('echo {path:/tmp/*.txt}', 'echo {path:/tmp/**}'), false);
    assert.equal(kind.covers('echo {path:/tmp/*}', 'echo /tmp/a'), true);
    assert.equal(kind.covers('echo {num}', 'echo 42'), true);
    assert.equal(kind.covers('echo {arg}', 'echo x'), true);
    assert.equal(kind.covers('echo {arg}', "echo '-x'"), false);
  });

  it('a concrete key covers only itself; lengths and operators must agree', () => {
    assert.equal(kind.covers('echo x', 'echo {arg}'), false);
    assert.equal(kind.covers('echo {arg}', 'echo x y'), false);
    assert.equal(kind.covers('echo {arg} ; id', 'echo x && id'), false);
  });
});

describe('command kind: collapse', () => {
  it('varying plain words become {arg}', () => {
    assert.equal(
      collapsesTo(['ping -c 1 127.0.0.1', 'ping -c 1 127.0.0.2', 'ping -c 1 127.0.0.3']),
      'ping -c 1 {arg}',
    );
  });

  it('varying digits become {num}, each position on its own', () => {
    assert.equal(collapsesTo(['ping -c 1 a', 'ping -c 2 b', 'ping -c 3 c']), 'ping -c {num} {arg}');
    assert.equal(collapsesTo(['head -n 5 x', 'head -n 10 x', 'head -n 15 x']), 'head -n {num} x');
  });

  it('varying absolute paths become {path:glob} inside a root', () => {
    assert.equal(
      collapsesTo([
        'tar -czf /tmp/export-1.tgz /srv/data/u1',
        'tar -czf /tmp/export-2.tgz /srv/data/u2',
        'tar -czf /tmp/export-3.tgz /srv/data/u3',
      ]),
      'tar -czf {path:/tmp/*.tgz} {path:/srv/data/*}',
    );
    assert.equal(
      collapsesTo(['cat /srv/data/a/x.txt', 'cat /srv/data/b/c/y.txt', 'cat /srv/data/z.txt']),
      'cat {path:/srv/data/**/*.txt}',
    );
  });

  it('refuses paths where the path kind refuses wildcards, and never falls back to {arg}', () => {
    assert.equal(collapsesTo(['cat /etc/a', 'cat /etc/b', 'cat /etc/c']), undefined);
    assert.equal(collapsesTo(['cat /tmp/a', 'cat /tmp/b', 'cat /tmp/c'], noRoots), undefined);
    assert.equal(collapsesTo(['cat /a', 'cat /b', 'cat /c']), undefined);
    assert.equal(collapsesTo(['cat /tmp/.a', 'cat /tmp/.b', 'cat /tmp/.c']), undefined);
    assert.equal(collapsesTo(["cat '/tmp/{a,b}'", 'cat /tmp/c', 'cat /tmp/d']), undefined);
  });

  it('refuses mixed words, options and non-plain words', () => {
    assert.equal(collapsesTo(['cat /tmp/a', 'cat b', 'cat c']), undefined);
    assert.equal(collapsesTo(['echo a', 'echo -b', 'echo c']), undefined);
    assert.equal(collapsesTo(["echo 'a b'", "echo 'c d'", "echo 'e f'"]), undefined);
    assert.equal(collapsesTo(['echo .a', 'echo .b', 'echo .c']), undefined);
  });

  it('needs the threshold of distinct siblings', () => {
    assert.equal(collapsesTo(['ping -c 1 a', 'ping -c 1 b']), undefined);
    assert.equal(
      collapsesTo(['ping -c 1 a', 'ping -c 1 b'], { ...options, threshold: 2 }),
      'ping -c 1 {arg}',
    );
  });

  it('groups only commands of one shape', () => {
    const groups = collapse(
      [
        'ping -c 1 a',
        'ping -c 1 b',
        'ping -c 1 c',
        'ping -c 1 a ; id',
        'ping -n 1 b',
        'ping -c 1 a b',
        'curl a',
        'curl b',
        'curl c',
      ].map((f) => kind.key(f)),
    );
    assert.deepEqual(
      groups.map((g) => g.pattern),
      ['curl {arg}', 'ping -c 1 {arg}'],
    );
    assert.deepEqual(groups[1]!.members, ['ping -c 1 a', 'ping -c 1 b', 'ping -c 1 c']);
  });

  it('splits a group by a position that cannot generalise', () => {
    // The path position has two values only: the other position generalises within each.
    const facts = [
      'cp /srv/data/a x1',
      'cp /srv/data/a x2',
      'cp /srv/data/a x3',
      'cp /srv/data/b y1',
      'cp /srv/data/b y2',
    ];
    assert.deepEqual(collapse(facts.map((f) => kind.key(f))), [
      {
        pattern: 'cp /srv/data/a {arg}',
        members: ['cp /srv/data/a x1', 'cp /srv/data/a x2', 'cp /srv/data/a x3'],
      },
    ]);
  });

  it('never generalises a program name', () => {
    assert.equal(collapsesTo(['a | grep x', 'a | sort x', 'a | head x']), undefined);
    assert.equal(collapsesTo(['a ; b', 'a ; c', 'a ; d']), undefined);
    assert.equal(collapsesTo(['X=1 a', 'X=1 b', 'X=1 c']), undefined);
    assert.equal(collapsesTo(['> /tmp/o a', '> /tmp/o b', '> /tmp/o c']), undefined);
    assert.equal(collapsesTo(['find . -exec a', 'find . -exec b', 'find . -exec c']), undefined);
    assert.equal(collapsesTo(['if a', 'if b', 'if c']), undefined);
    assert.equal(collapsesTo(['node a.js', 'node b.js', 'node c.js']), undefined);
    assert.equal(collapsesTo(['node -e a', 'node -e b', 'node -e c']), undefined);
    assert.equal(
      collapsesTo(['node worker.js 1', 'node worker.js 2', 'node worker.js 3']),
      'node worker.js {num}',
    );
    assert.equal(collapsesTo(['a | grep x', 'a | grep y', 'a | grep z']), 'a | grep {arg}');
  });

  it('never generalises any word of a command that runs another command', () => {
    assert.equal(collapsesTo(['sudo a', 'sudo b', 'sudo c']), undefined);
    assert.equal(collapsesTo(['sudo -u a id', 'sudo -u b id', 'sudo -u c id']), undefined);
    assert.equal(collapsesTo(['env a', 'env b', 'env c']), undefined);
    assert.equal(collapsesTo(['sh -c a', 'sh -c b', 'sh -c c']), undefined);
    assert.equal(
      collapsesTo(['/usr/bin/xargs a', '/usr/bin/xargs b', '/usr/bin/xargs c']),
      undefined,
    );
    assert.equal(collapsesTo(['ssh h a', 'ssh h b', 'ssh h c']), undefined);
    // ... but the next command of a pipeline is on its own again.
    assert.equal(
      collapsesTo(['sudo id | grep a', 'sudo id | grep b', 'sudo id | grep c']),
      'sudo id | grep {arg}',
    );
  });

  it('a redirection target is an argument', () => {
    assert.equal(
      collapsesTo(['ls > /tmp/a.txt', 'ls > /tmp/b.txt', 'ls > /tmp/c.txt']),
      'ls > {path:/tmp/*.txt}',
    );
  });

  it('patterns among the siblings take part, and the result covers them', () => {
    const keys = ['ping -c 1 {arg}', 'ping -c 2 x', 'ping -c 3 y'];
    assert.deepEqual(collapse(keys), [
      { pattern: 'ping -c {num} {arg}', members: [...keys].sort() },
    ]);
    const paths = ['cat {path:/tmp/*.txt}', 'cat /tmp/x.txt', 'cat /tmp/y.txt'];
    assert.deepEqual(collapse(paths), [
      { pattern: 'cat {path:/tmp/*.txt}', members: [...paths].sort() },
    ]);
  });

  it('operator tokens stay exact, so injections never join a group', () => {
    assert.equal(collapsesTo(['ping -c 1 $(a)', 'ping -c 1 $(b)', 'ping -c 1 $(c)']), undefined);
    assert.equal(collapsesTo(['ping -c 1 `a`', 'ping -c 1 `b`', 'ping -c 1 `c`']), undefined);
    assert.equal(collapsesTo(['ls a*', 'ls b*', 'ls c*']), undefined);
  });
});

describe('command kind: validate and breadth', () => {
  it('accepts templates and canonical concrete keys', () => {
    for (const key of [
      'ping -c 1 {arg}',
      'tar -czf {path:/tmp/export-*.tgz} {path:/srv/data/**}',
      'ping -c {num} x',
      "echo '{num}'",
      'ls > /tmp/x',
    ]) {
      assert.equal(kind.validate(key), undefined, key);
    }
  });

  it('rejects malformed keys with a reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['   ', /empty/],
      ['echo {foo}', /unknown placeholder '\{foo\}'/],
      ['echo {num}x', /whole word/],
      ['echo x{num}', /canonical form/],
      ['echo {path:tmp/x}', /must be absolute/],
      ['echo {path:/tmp/{a,b}}', /not supported/],
      ['echo {path:/tmp/x', /closing/],
      ['{arg} -c 1', /program or script name/],
      ['ping -c 1 x | {arg}', /program or script name/],
      ['node {path:/srv/data/*.js}', /program or script name/],
      ['echo ${X:-$(id)}', /cannot read/],
      ['echo  x', /canonical form: write echo x/],
      ['echo "x y"', /canonical form: write echo 'x y'/],
    ];
    for (const [key, reason] of cases) assert.match(kind.validate(key) ?? '', reason, key);
  });

  it('warns about wide path globs and placeholders in wrapped commands', () => {
    assert.match(kind.breadth('tar -czf {path:/etc/*}', options) ?? '', /\{path:\/etc\/\*\}/);
    assert.match(kind.breadth('sudo {arg}', options) ?? '', /runs other commands/);
    assert.match(kind.breadth('{arg}', options) ?? '', /any program/);
    assert.equal(kind.breadth('tar -czf {path:/tmp/*.tgz}', options), undefined);
    assert.equal(kind.breadth('ping -c 1 {arg}', options), undefined);
  });
});

describe('command kind in a tree', () => {
  it('learns a template and refuses injections', () => {
    const root = literalKind({ name: 'scope', child: () => kind });
    let tree = createTree(root);
    for (const ip of ['127.0.0.1', '127.0.0.2', '127.0.0.3'])
      add(tree, ['POST /ping', `ping -c 1 ${ip}`]);
    add(tree, ['POST /ping', 'ping -c 1 127.0.0.1; cat /etc/passwd']);
    tree = simplify(tree, options);
    assert.deepEqual(rules(tree), [
      ['POST /ping', 'ping -c 1 127.0.0.1 ; cat /etc/passwd'],
      ['POST /ping', 'ping -c 1 {arg}'],
    ]);
    assert.equal(allows(tree, ['POST /ping', 'ping -c 1 127.0.0.9']).allowed, true);
    assert.equal(allows(tree, ['POST /ping', 'ping -c 1 127.0.0.9; id']).allowed, false);
    assert.equal(allows(tree, ['POST /ping', 'ping -c 1 127.0.0.1;cat /etc/passwd']).allowed, true);
    assert.deepEqual(rules(simplify(tree, options)), rules(tree));
  });
});

describe('command kind: properties', () => {
  const word = fc.oneof(
    fc.constantFrom(
      'ping',
      '-c',
      '1',
      '22',
      '/tmp/a.tgz',
      'a;b',
      '$(id)',
      '`id`',
      '{num}',
      '{arg}',
      '{path:/x}',
      '*',
      "it's",
      'a b',
      '#x',
      '',
      '$X',
      '${Y}',
      '\\',
      '"',
      "'",
    ),
    fc.string({ maxLength: 6 }),
  );
  const argv = fc.array(word, { minLength: 1, maxLength: 5 });
  const shellLine = fc
    .array(
      fc.oneof(
        word,
        fc.constantFrom(
          ';',
          '&&',
          '|',
          '>',
          '\n',
          '$(',
          ')',
          '`',
          '"',
          "'",
          '\\',
          '*',
          '#',
          '$',
          '${',
          '}',
        ),
      ),
      { minLength: 1, maxLength: 8 },
    )
    .map((parts) => parts.join(' '));
  const fact = fc.oneof(
    argv.map((a) => quote(a)),
    shellLine,
  );

  it('a fact key is never a pattern, validates, matches its fact and is stable', () => {
    fc.assert(
      fc.property(fact, (f) => {
        const key = kind.key(f);
        assert.equal(kind.isPattern(key), false);
        assert.equal(kind.validate(key), undefined);
        assert.equal(kind.matches(key, f), true);
        assert.equal(kind.key(key), key);
        assert.equal(kind.covers(key, key), true);
      }),
      { numRuns: 500 },
    );
  });

  it('quote(argv) keeps its arguments apart', () => {
    fc.assert(
      fc.property(argv, (a) => {
        const key = kind.key(quote(a));
        // An argument vector never reads as more than one command.
        assert.doesNotMatch(key, /(^| )(;|&&|\||\|\||>|<|&)( |$)/);
      }),
      { numRuns: 300 },
    );
  });

  it('in a tree, simplify keeps every learned line allowed and settles', () => {
    const arg = fc.constantFrom(
      '1',
      '22',
      'a',
      'b',
      'c',
      '/tmp/a.tgz',
      '/tmp/b.tgz',
      '/tmp/c.tgz',
      '/srv/data/u1/x',
      '-v',
      'a b',
      '$(id)',
    );
    const line = fc
      .tuple(
        fc.constantFrom('tar -czf', 'ping -c', 'sudo cp', 'x | grep'),
        fc.array(arg, { maxLength: 2 }),
        fc.constantFrom('', ' ; id', ' > /tmp/o'),
      )
      .map(([exe, args, tail]) => `${exe} ${args.map(quoteWord).join(' ')}${tail}`.trim());
    const root = literalKind({ name: 'scope', child: () => kind });
    fc.assert(
      fc.property(fc.array(line, { maxLength: 25 }), (lines) => {
        const tree = createTree(root);
        for (const l of lines) add(tree, ['s', l]);
        const once = simplify(tree, options);
        for (const l of lines) assert.equal(allows(once, ['s', l]).allowed, true, l);
        assert.deepEqual(rules(simplify(once, options)), rules(once));
      }),
      { numRuns: 200 },
    );
  });

  it('collapse proposals cover their members and the facts they came from', () => {
    const arg = fc.constantFrom(
      '1',
      '2',
      '3',
      'a',
      'b',
      '/tmp/a.tgz',
      '/tmp/b.tgz',
      '/srv/data/u1/x',
      '-v',
      'a b',
      '$(id)',
    );
    const line = fc
      .tuple(
        fc.constantFrom('tar -czf', 'ping -c', 'cp'),
        fc.array(arg, { maxLength: 3 }),
        fc.constantFrom('', ' ; id', ' | nc x'),
      )
      .map(([exe, args, tail]) => `${exe} ${args.map(quoteWord).join(' ')}${tail}`.trim());
    fc.assert(
      fc.property(fc.uniqueArray(line, { maxLength: 12 }), (lines) => {
        const keys = [...new Set(lines.map((l) => kind.key(l)))].sort();
        const seen = new Set<string>();
        for (const group of kind.collapse(keys, options)) {
          for (const m of group.members) {
            assert.equal(seen.has(m), false, 'groups are disjoint');
            seen.add(m);
            assert.equal(kind.covers(group.pattern, m), true, `${group.pattern} ⊇ ${m}`);
          }
          assert.equal(kind.validate(group.pattern), undefined, group.pattern);
        }
        for (const l of lines) {
          const key = kind.key(l);
          const group = kind.collapse(keys, options).find((g) => g.members.includes(key));
          if (group) assert.equal(kind.matches(group.pattern, l), true, `${group.pattern} ∋ ${l}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
