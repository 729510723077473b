/**
 * @module
 * SQL drivers leash knows of but does not patch. One of them loaded means statements that no
 * policy sees: named in a warning while learning and reporting, refused at start in enforce
 * (unless the config's `ignoreUnpatched` lists it), so that silence never passes for coverage.
 */
import type { UncoveredPackage } from '../instrument/enable.ts';

const SQL_DRIVERS = [
  'mysql',
  'mariadb',
  'tedious',
  'mssql',
  'oracledb',
  'pg-native',
  'duckdb',
  '@libsql/client',
  'ibm_db',
];

export const UNCOVERED_SQL_DRIVERS: readonly UncoveredPackage[] = SQL_DRIVERS.map((name) => ({
  package: name,
  consequence: 'its statements are not checked by the sql module',
  failClosed: true,
}));
