/**
 * @module
 * `node:sqlite` in an isolated worker, whose kernel sandbox keeps it from the database file: a
 * `DatabaseSync` (and the statements it prepares) that sends each call to the supervisor's SQLite
 * host (src/isolate/sqlite-host.ts) over the blocking isolation channel, with the current
 * request's token on every call that runs SQL. Service code keeps its synchronous API, its row
 * shapes and SQLite's errors (message, `code`, `errcode`, `errstr`); what the supervisor cannot
 * offer a worker (user functions, sessions, extensions, serialisation…) throws ERR_LEASH_DENIED.
 *
 * A `:memory:` database (or `''`, a private temporary one) is the worker's own with nothing to
 * protect: it is the real class, run in the worker.
 */
import { registerHooks } from 'node:module';
import sqlite from 'node:sqlite';
import { fileURLToPath } from 'node:url';
import { LeashError } from '../errors.ts';
import {
  type Outcome,
  type Release,
  type RunMethod,
  SQLITE_KIND,
  type SqliteErrorShape,
  type SqliteMessage,
  type StatementFlag,
} from './sqlite-messages.ts';
import type { ChannelClient } from './sync-channel.ts';

type Originals = Pick<typeof sqlite, 'DatabaseSync' | 'StatementSync' | 'backup'>;

/** Lets only this module construct statements, as node:sqlite does. */
const PREPARED = Symbol('leash.sqlite.prepared');

function notAvailable(what: string): LeashError {
  return new LeashError(
    'ERR_LEASH_DENIED',
    `node:sqlite ${what} is not available to an isolated worker: its database is held by the ` +
      'leash supervisor, which runs only checked statements',
  );
}

/** node:sqlite's own errors, rebuilt in the worker so the stack is the caller's. */
function sqliteError(shape: SqliteErrorShape): Error {
  const Type =
    shape.name === 'TypeError' ? TypeError : shape.name === 'RangeError' ? RangeError : Error;
  const error = new Type(shape.message) as Error & Record<string, unknown>;
  if (shape.code !== undefined) error.code = shape.code;
  if (shape.errcode !== undefined) error.errcode = shape.errcode;
  if (shape.errstr !== undefined) error.errstr = shape.errstr;
  return error;
}

const invalidState = (message: string) =>
  sqliteError({ name: 'Error', message, code: 'ERR_INVALID_STATE' });
const invalidArgument = (message: string) =>
  sqliteError({ name: 'TypeError', message, code: 'ERR_INVALID_ARG_TYPE' });

/** Rows as node:sqlite returns them: objects without a prototype (v8 deserialises with one). */
function row(value: unknown): unknown {
  return Array.isArray(value) || value === undefined
    ? value
    : Object.assign(Object.create(null), value as object);
}

function optionsObject(options: unknown): Readonly<Record<string, unknown>> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null)
    throw invalidArgument('The "options" argument must be an object.');
  return options as Record<string, unknown>;
}

/** Whether the path names a private database the worker runs itself (nothing the host holds). */
function isPrivate(path: unknown): boolean {
  const name = ArrayBuffer.isView(path)
    ? Buffer.from(path.buffer, path.byteOffset, path.byteLength).toString()
    : path;
  return name === ':memory:' || name === '';
}

function pathText(path: unknown): string {
  if (typeof path === 'string') return path;
  if (path instanceof Uint8Array) return Buffer.from(path).toString();
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidArgument('The URL must be of scheme file:');
    if (path.search !== '') throw notAvailable(`a database URI with parameters (${path.href})`);
    return fileURLToPath(path);
  }
  throw invalidArgument(
    'The "path" argument must be a string, Uint8Array, or URL without null bytes.',
  );
}

/**
 * The replacement classes, bound to one channel. Objects the worker's garbage collector drops
 * are released on the host with the next message (a connection closes, a statement finalizes),
 * as node:sqlite frees them when it collects them.
 */
function remoteClasses(
  client: ChannelClient,
  tokenOf: () => string | undefined,
  originals: Originals,
) {
  let released: Release[] = [];
  const collected = new FinalizationRegistry<Release>((item) => released.push(item));

  const call = (message: SqliteMessage): unknown => {
    const release = released;
    released = [];
    let outcome: Outcome;
    try {
      outcome = client.call(
        SQLITE_KIND,
        release.length === 0 ? message : { ...message, release },
      ) as Outcome;
    } catch (error) {
      if (error instanceof LeashError) throw error;
      released = release.concat(released);
      // v8.serialize refused a parameter (a function, a symbol): node:sqlite refuses it too.
      throw invalidArgument(
        `Provided value cannot be bound to SQLite parameter: ${(error as Error).message}`,
      );
    }
    if ('error' in outcome) throw sqliteError(outcome.error);
    return outcome.value;
  };

  const token = (): { token?: string } => {
    const current = tokenOf();
    return current === undefined ? {} : { token: current };
  };

  class StatementSync {
    static [Symbol.hasInstance](value: unknown): boolean {
      return (
        (typeof value === 'object' && value !== null && #id in value) ||
        value instanceof originals.StatementSync
      );
    }

    readonly #id: number;
    readonly #sql: string;
    /** Whether the connection it was prepared on is still the database's open one. */
    readonly #live: () => boolean;
    #finalized = false;

    constructor(key: symbol, id: number, sql: string, live: () => boolean) {
      if (key !== PREPARED) {
        throw sqliteError({
          name: 'Error',
          message: 'Illegal constructor',
          code: 'ERR_ILLEGAL_CONSTRUCTOR',
        });
      }
      this.#id = id;
      this.#sql = sql;
      this.#live = live;
      collected.register(this, { statement: id }, this);
    }

    get sourceSQL(): string {
      return this.#sql;
    }

    get expandedSQL(): string {
      return this.#ask('expandedSQL') as string;
    }

    run(...args: unknown[]): unknown {
      return row(this.#run('run', args));
    }

    get(...args: unknown[]): unknown {
      return row(this.#run('get', args));
    }

    all(...args: unknown[]): unknown[] {
      return (this.#run('all', args) as unknown[]).map(row);
    }

    /** Every row is fetched at once; the iterator walks them. */
    iterate(...args: unknown[]): IteratorObject<unknown> {
      return (this.#run('iterate', args) as unknown[]).map(row).values();
    }

    columns(): unknown[] {
      return (this.#ask('columns') as unknown[]).map(row);
    }

    setReadBigInts(enabled: boolean): void {
      this.#set('readBigInts', enabled);
    }

    setReturnArrays(enabled: boolean): void {
      this.#set('returnArrays', enabled);
    }

    setAllowBareNamedParameters(enabled: boolean): void {
      this.#set('allowBareNamedParameters', enabled);
    }

    setAllowUnknownNamedParameters(enabled: boolean): void {
      this.#set('allowUnknownNamedParameters', enabled);
    }

    close(): void {
      if (this.#finalized || !this.#live()) return;
      this.#finalized = true;
      collected.unregister(this);
      call({ op: 'finalize', statement: this.#id });
    }

    [Symbol.dispose](): void {
      this.close();
    }

    #check(): void {
      if (this.#finalized || !this.#live()) throw invalidState('statement has been finalized');
    }

    #run(op: RunMethod, args: unknown[]): unknown {
      this.#check();
      return call({ op, statement: this.#id, args, ...token() });
    }

    #ask(op: 'columns' | 'expandedSQL'): unknown {
      this.#check();
      return call({ op, statement: this.#id });
    }

    #set(flag: StatementFlag, enabled: unknown): void {
      this.#check();
      call({ op: 'set', statement: this.#id, flag, enabled });
    }
  }

  class DatabaseSync {
    static [Symbol.hasInstance](value: unknown): boolean {
      return (
        (typeof value === 'object' && value !== null && #path in value) ||
        value instanceof originals.DatabaseSync
      );
    }

    readonly #path!: string;
    readonly #options!: Readonly<Record<string, unknown>>;
    /** The host's id for the open connection; undefined while closed. */
    #connection: number | undefined;

    constructor(path: unknown, ...more: unknown[]) {
      if (isPrivate(path)) {
        // A constructor may answer another object: the real database, run here.
        // biome-ignore lint/correctness/noConstructorReturn: see above
        return new originals.DatabaseSync(
          ...([path, ...more] as ConstructorParameters<typeof originals.DatabaseSync>),
        ) as unknown as DatabaseSync;
      }
      const options = more[0];
      this.#path = pathText(path);
      const { open, ...rest } = optionsObject(options);
      this.#options = rest;
      if (open !== false) this.open();
    }

    get isOpen(): boolean {
      return this.#connection !== undefined;
    }

    get isTransaction(): boolean {
      return call({ op: 'isTransaction', db: this.#open() }) as boolean;
    }

    get limits(): never {
      throw notAvailable('DatabaseSync.limits');
    }

    open(): void {
      if (this.#connection !== undefined) throw invalidState('database is already open');
      const id = call({
        op: 'open',
        path: this.#path,
        cwd: process.cwd(),
        options: this.#options,
      }) as number;
      this.#connection = id;
      collected.register(this, { db: id }, this);
    }

    close(): void {
      const db = this.#open();
      collected.unregister(this);
      this.#connection = undefined;
      call({ op: 'close', db });
    }

    exec(sql: string): void {
      const db = this.#open();
      if (typeof sql !== 'string') throw invalidArgument('The "sql" argument must be a string.');
      call({ op: 'exec', db, sql, ...token() });
    }

    prepare(sql: string, options?: unknown): StatementSync {
      const db = this.#open();
      if (typeof sql !== 'string') throw invalidArgument('The "sql" argument must be a string.');
      const id = call({ op: 'prepare', db, sql, options: optionsObject(options) }) as number;
      return new StatementSync(PREPARED, id, sql, () => this.#connection === db);
    }

    [Symbol.dispose](): void {
      if (this.#connection !== undefined) this.close();
    }

    #open(): number {
      if (this.#connection === undefined) throw invalidState('database is not open');
      return this.#connection;
    }
  }

  // Whatever else node:sqlite has, and whatever a later Node adds, is refused by name.
  for (const [Remote, Original] of [
    [DatabaseSync, originals.DatabaseSync],
    [StatementSync, originals.StatementSync],
  ] as const) {
    for (const name of Object.getOwnPropertyNames(Original.prototype)) {
      if (Object.hasOwn(Remote.prototype, name)) continue;
      Object.defineProperty(Remote.prototype, name, {
        value: function notOffered(): never {
          throw notAvailable(`${Original.name}.${name}()`);
        },
        writable: true,
        configurable: true,
      });
    }
  }

  const backup: typeof originals.backup = (source, ...rest) => {
    if (!(source instanceof originals.DatabaseSync))
      throw notAvailable('backup() of a database the supervisor holds');
    return originals.backup(source, ...rest);
  };

  return { DatabaseSync, StatementSync, backup };
}

/** Where the ESM stand-in for node:sqlite keeps the function that re-reads its bindings. */
const RESYNC = Symbol.for('leash.isolate.sqlite-esm-resync');

/**
 * The module ESM imports of `node:sqlite` get instead of the builtin's own facade: its named
 * exports are read from the CommonJS object, so they are the remote classes. Node's
 * `syncBuiltinESMExports()` passes over builtins that exist only with the `node:` scheme, and
 * `node:sqlite` is one, so the builtin's facade would keep the real classes. The stand-in keeps a
 * re-read on the CommonJS object, which does for it what that function would.
 */
function esmStandIn(names: readonly string[]): string {
  const list = names.join(', ');
  const source = [
    "const sqlite = process.getBuiltinModule('node:sqlite');",
    'export default sqlite;',
    `export let { ${list} } = sqlite;`,
    `Object.defineProperty(sqlite, Symbol.for('${RESYNC.description}'), {`,
    `  configurable: true, value: () => { ({ ${list} } = sqlite); },`,
    '});',
  ].join('\n');
  return `data:text/javascript,${encodeURIComponent(source)}`;
}

/**
 * Makes `node:sqlite` the remote one for everything loaded afterwards: its CommonJS object (so
 * `require` and `process.getBuiltinModule`) and, through a resolve hook, ESM imports. Returns the
 * function that puts the originals back, for modules that imported it meanwhile too.
 */
export function installRemoteSqlite(
  client: ChannelClient,
  tokenOf: () => string | undefined,
): () => void {
  const originals: Originals = {
    DatabaseSync: sqlite.DatabaseSync,
    StatementSync: sqlite.StatementSync,
    backup: sqlite.backup,
  };
  const exports = sqlite as unknown as Record<PropertyKey, unknown>;
  const resync = () => (exports[RESYNC] as (() => void) | undefined)?.();
  Object.assign(exports, remoteClasses(client, tokenOf, originals));
  resync();
  const url = esmStandIn(Object.keys(sqlite));
  const hooks = registerHooks({
    resolve(specifier, context, next) {
      // require() returns the CommonJS object itself, already the remote one.
      if (specifier === 'node:sqlite' && !context.conditions.includes('require'))
        return { url, format: 'module', shortCircuit: true };
      return next(specifier, context);
    },
  });
  return () => {
    hooks.deregister();
    Object.assign(exports, originals);
    resync();
  };
}
