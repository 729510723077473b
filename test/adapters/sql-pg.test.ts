// SQL conformance on pg, a database per service on one PostgreSQL (see sql-conformance.ts).
import pg from 'pg';
import { type RunningPostgres, startPostgres } from '../support/postgres.ts';
import { sqlConformance } from './sql-conformance.ts';

let postgres: RunningPostgres | undefined;
let databases = 0;
sqlConformance('pg', {
  server: {
    start: async () => {
      postgres = await startPostgres();
    },
    stop: async () => postgres?.stop(),
    async database() {
      const name = `conformance_${++databases}`;
      const admin = new pg.Client({ connectionString: postgres!.url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${name}`);
      } finally {
        await admin.end();
      }
      const url = new URL(postgres!.url);
      url.pathname = `/${name}`;
      return { DATABASE_URL: url.href };
    },
  },
});
