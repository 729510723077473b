// SQL conformance on mysql2, a database per service on one MariaDB (see sql-conformance.ts).
import { type RunningMariaDB, startMariaDB } from '../support/mariadb.ts';
import { sqlConformance } from './sql-conformance.ts';

let mariadb: RunningMariaDB | undefined;
let databases = 0;
sqlConformance('mysql2', {
  server: {
    start: async () => {
      mariadb = await startMariaDB();
    },
    stop: async () => mariadb?.stop(),
    database: async () => ({
      MYSQL_URL: await mariadb!.createDatabase(`conformance_${++databases}`),
    }),
  },
});
