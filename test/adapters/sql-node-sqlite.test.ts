// SQL conformance on node:sqlite, under every adapter (see sql-conformance.ts).
import { sqlConformance } from './sql-conformance.ts';

sqlConformance('node:sqlite', { everyAdapter: true });
