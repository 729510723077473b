/**
 * @module
 * The literal kind: route scopes, package names, capability names, SQL templates. Keys equal facts;
 * the only pattern is a hand-written `*` (any single fact), which lint flags. Literals never
 * collapse: three routes reading one file do not make "every route".
 */
import type { Kind } from '../kind.ts';

export interface LiteralKindOptions {
  readonly name: string;
  /** The kind of the next position; `null` (the default) when a rule ends here. */
  readonly child?: (key: string) => Kind | null;
  /** Extra check of a hand-written key (e.g. a known capability name). */
  readonly validate?: (key: string) => string | undefined;
}

const ANY = '*';

export function literalKind(options: LiteralKindOptions): Kind {
  const child = options.child ?? (() => null);
  const extraValidate = options.validate;
  const escapeFact = (fact: string): string =>
    fact === ANY || fact.startsWith('\\') ? `\\${fact}` : fact;
  return {
    name: options.name,
    key: escapeFact,
    matches: (key, fact) => key === ANY || key === escapeFact(fact),
    covers: (outer, inner) => outer === inner || outer === ANY,
    isPattern: (key) => key === ANY,
    collapse: () => [],
    child,
    validate(key) {
      if (key.length === 0) return `an empty ${options.name}`;
      return extraValidate?.(key === ANY ? key : key.startsWith('\\') ? key.slice(1) : key);
    },
    breadth: (key) =>
      key === ANY ? `'*' allows every ${options.name}; leash never learns it` : undefined,
  };
}
