/**
 * @module
 * The decision point every module calls: `check(facts, use)` against the policy, with the module's
 * mode deciding what a refusal does. learn records and allows; report allows, logs each distinct
 * violation once and records it for review; enforce refuses with ERR_LEASH_DENIED.
 */
import { currentRequest } from '../attribution/scope.ts';
import type { SimplifyOptions } from '../core/kind.ts';
import type { Facts, PolicyTree } from '../core/tree.ts';
import { add, addRule, allows } from '../core/tree.ts';
import { LeashError } from '../errors.ts';
import type { Logger } from '../log/logger.ts';
import type {
  CheckOptions,
  LeashModule,
  Mode,
  ModuleHost,
  ModuleSettings,
  UseContext,
  Verdict,
} from '../module/module.ts';
import { markRefusal } from './uncaught-refusal.ts';

/** Where learned facts and violations go (the learner of src/store). */
export interface HostSink {
  learn(module: string, facts: Facts): boolean;
  learnRule(module: string, rule: readonly string[]): boolean;
  recordViolation(
    module: string,
    facts: Facts,
    mode: 'report' | 'enforce',
    nearest?: readonly string[],
  ): void;
}

export interface HostOptions {
  readonly module: LeashModule;
  readonly mode: Mode;
  /** The live tree, consulted on every check; learning adds to it too. */
  readonly tree: PolicyTree;
  readonly policyFile: string;
  readonly sink: HostSink;
  readonly logger: Logger;
  readonly appRoot: string;
  readonly simplify: SimplifyOptions;
  readonly use: () => UseContext;
  readonly settings: ModuleSettings;
  /** Default: throw the error. */
  readonly refuseToStart?: (error: Error) => void;
}

const ALLOWED: Verdict = Object.freeze({ allowed: true, rule: undefined });

export function createHost(options: HostOptions): ModuleHost {
  const {
    module,
    mode,
    tree,
    policyFile,
    sink,
    logger,
    appRoot,
    simplify,
    use,
    settings,
    refuseToStart,
  } = options;
  const log = logger.child({ module: module.name });
  /** Distinct violations already logged by this process: key → count. */
  const seen = new Map<string, number>();

  const decide = (
    facts: Facts,
    use: UseContext,
    refuse: boolean,
    options?: CheckOptions,
  ): Verdict => {
    if (mode === 'off') return ALLOWED;
    // What a repetition teaches is generalisation, which `leash ci` (learnExact) turns off: the
    // committed policy grants the facts themselves, and the added rule would read as missing.
    if (
      mode === 'learn' &&
      settings.learnExact !== true &&
      options?.alsoLearn !== undefined &&
      addRule(tree, options.alsoLearn)
    )
      sink.learnRule(module.name, options.alsoLearn);
    const decision = allows(tree, facts, { nearest: mode !== 'learn' });
    if (decision.allowed) return { allowed: true, rule: decision.rule };
    if (mode === 'learn') {
      if (options?.learnAs === undefined) {
        add(tree, facts);
        sink.learn(module.name, facts);
      } else {
        addRule(tree, options.learnAs);
        sink.learnRule(module.name, options.learnAs);
      }
      return ALLOWED;
    }
    if (options?.excuse?.() === true) return ALLOWED;
    const key = JSON.stringify(facts);
    const count = (seen.get(key) ?? 0) + 1;
    seen.set(key, count);
    sink.recordViolation(module.name, facts, mode, decision.nearest);
    if (count === 1) {
      log.warn(
        {
          event: 'violation',
          mode,
          facts,
          scope: use.scope,
          package: use.package,
          nearest: decision.nearest ?? null,
          policy: policyFile,
          count,
        },
        `${mode === 'enforce' ? 'refused' : 'would refuse'}: ${describe(module, facts)}`,
      );
    }
    if (mode === 'enforce' && refuse) {
      const error = denied(module, facts, use, policyFile, decision.nearest);
      markRefusal(error, currentRequest());
      throw error;
    }
    return mode === 'enforce' ? { allowed: false, nearest: decision.nearest } : ALLOWED;
  };

  return {
    mode,
    policyFile,
    check: (facts, u, checkOptions) => decide(facts, u, true, checkOptions),
    observe: (facts, u, checkOptions) => decide(facts, u, false, checkOptions),
    use,
    appRoot,
    simplify,
    tree,
    settings,
    refuseToStart:
      refuseToStart ??
      ((error) => {
        throw error;
      }),
    log: {
      warn: (object, message) => log.warn(object, message),
      info: (object, message) => log.info(object, message),
    },
  };
}

function describe(module: LeashModule, facts: Facts): string {
  return facts.map((fact, i) => `${module.positions[i] ?? i}=${JSON.stringify(fact)}`).join(' ');
}

export function denied(
  module: LeashModule,
  facts: Facts,
  use: UseContext,
  policyFile: string,
  nearest: readonly string[] | undefined,
): LeashError {
  // The message may reach an HTTP client (a framework's error page, an app that prints errors):
  // it names no path, value, rule or policy file. The log line of the violation has them, and so
  // do the error's details, which are not enumerable.
  return new LeashError(
    'ERR_LEASH_DENIED',
    `leash refused a ${module.name} use in ${use.scope}; the leash log (event "violation") says what and why`,
    {
      module: module.name,
      facts,
      scope: use.scope,
      package: use.package,
      file: policyFile,
      ...(nearest === undefined ? {} : { nearest }),
    },
  );
}
