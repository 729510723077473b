// SQL conformance on better-sqlite3 (see sql-conformance.ts).
import { sqlConformance } from './sql-conformance.ts';

sqlConformance('better-sqlite3');
