/**
 * @module
 * The sql module: per route, the statement templates it runs and, per slot, where the value
 * comes from. Facts: [scope, template, slot, constraint].
 */
import { literalKind } from '../../core/kinds/literal.ts';
import { sqlConstraintKind, sqlSlotKind, sqlTemplateKind } from '../../core/kinds/sql.ts';
import { defineModule } from '../../module/module.ts';

const templateKind = sqlTemplateKind({ slotKind: sqlSlotKind(sqlConstraintKind()) });
const scopeKind = literalKind({ name: 'scope', child: () => templateKind });

export const sqlModule = defineModule({
  name: 'sql',
  description: 'SQL statement templates per route, with where each argument comes from',
  positions: ['scope', 'template', 'slot', 'constraint'],
  root: scopeKind,
});
