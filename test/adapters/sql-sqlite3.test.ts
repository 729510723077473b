// SQL conformance on sqlite3 (see sql-conformance.ts).
import { sqlConformance } from './sql-conformance.ts';

sqlConformance('sqlite3');
