/**
 * @module
 * Statement → template costs, side by side: `node --conditions=leash-source
 * bench/sql-template.bench.ts`. For each dialect and a few statements: a first parse (templateOf on
 * a text not seen before: parser, normalisation, check), and a cached lookup (the statement cache's
 * hit path). Prints a table of µs per call (median of 7 rounds).
 */
import { createStatementCache } from '../src/modules/sql/statement-cache.ts';
import { prepareSqlParsers, type SqlDialect, templateOf } from '../src/modules/sql/template.ts';

const STATEMENTS: Record<string, Record<Exclude<SqlDialect, 'mysql-nbe'>, string>> = {
  'point select': {
    postgres: 'SELECT * FROM notes WHERE id = $1 AND owner = $2',
    sqlite: 'SELECT * FROM notes WHERE id = ? AND owner = ?',
    mysql: 'SELECT * FROM `notes` WHERE `id` = ? AND `owner` = ?',
  },
  insert: {
    postgres: 'INSERT INTO notes (title, body, owner) VALUES ($1, $2, $3) RETURNING id',
    sqlite: 'INSERT INTO notes (title, body, owner) VALUES (?, ?, ?) RETURNING id',
    mysql: "INSERT INTO `notes` (`title`, `body`, `owner`) VALUES ('a title', 'it\\'s a body', 42)",
  },
  'join + IN + order': {
    postgres:
      "SELECT n.id, n.title, u.name FROM notes n JOIN users u ON u.id = n.owner WHERE n.owner = $1 AND n.tag IN ('a', 'b', 'c') AND n.title LIKE $2 ORDER BY n.created DESC LIMIT 20 OFFSET $3",
    sqlite:
      "SELECT n.id, n.title, u.name FROM notes n JOIN users u ON u.id = n.owner WHERE n.owner = ? AND n.tag IN ('a', 'b', 'c') AND n.title LIKE ? ORDER BY n.created DESC LIMIT 20 OFFSET ?",
    mysql:
      "SELECT `n`.`id`, `n`.`title`, `u`.`name` FROM `notes` AS `n` JOIN `users` AS `u` ON `u`.`id` = `n`.`owner` WHERE `n`.`owner` = 7 AND `n`.`tag` IN ('a', 'b', 'c') AND `n`.`title` LIKE '%x%' ORDER BY `n`.`created` DESC LIMIT 20 OFFSET 40",
  },
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** µs per call of `run`, median of 7 rounds of `n` calls, after a warm-up round. */
function measure(n: number, run: (i: number) => void): number {
  const rounds: number[] = [];
  for (let round = -1; round < 7; round++) {
    const start = performance.now();
    for (let i = 0; i < n; i++) run(i);
    if (round >= 0) rounds.push(((performance.now() - start) * 1000) / n);
  }
  return median(rounds);
}

const loadStart = performance.now();
await prepareSqlParsers();
console.log(`prepareSqlParsers(): ${(performance.now() - loadStart).toFixed(1)} ms`);

const rows: Record<string, string>[] = [];
for (const [name, byDialect] of Object.entries(STATEMENTS)) {
  for (const dialect of ['postgres', 'sqlite', 'mysql'] as const) {
    const sql = byDialect[dialect];
    // A first parse: templateOf parses every time (no cache in the way).
    const parse = measure(dialect === 'postgres' ? 300 : 3000, () => templateOf(sql, dialect));
    const cache = createStatementCache();
    cache.get(sql, dialect);
    const cached = measure(200_000, () => cache.get(sql, dialect));
    // The cache's miss path on ever-new texts (parse + insert + eviction), as an attacker or a
    // service that builds texts with inline values would cause.
    const small = createStatementCache({ max: 100 });
    let fresh = 0;
    const miss = measure(dialect === 'postgres' ? 300 : 3000, () =>
      small.get(`${sql} -- ${fresh++}`, dialect),
    );
    rows.push({
      statement: name,
      dialect,
      'first parse µs': parse.toFixed(1),
      'cache miss µs': miss.toFixed(1),
      'cached µs': cached.toFixed(3),
    });
  }
}
console.table(rows);
