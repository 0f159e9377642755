/**
 * Failure classes and exit codes shared by every stage.
 *
 * Exit codes (see README): 0 ok; 1 the kernel or its tests failed (a test
 * failure, panic, oops, warning, hang, boot or build failure); 2 the tool
 * could not do its job (bad flag, missing dependency, patch that does not
 * apply, infrastructure); 3 --backend kvm and KVM does not work on this
 * host (its probe boot failed or hung); 125 is reserved for `git bisect run` "skip";
 * 130 interrupted.
 */

export const RUN_CLASSES = [
  'ok',
  'flaky',
  'test-failure',
  'panic',
  'oops',
  'warning',
  'hang',
  'boot-failure',
  'build-failure',
  'config-failure',
  'apply-failure',
  'usage-error',
  'missing-dependency',
  'infra-error',
  'kvm-unusable',
  'interrupted',
] as const;
export type RunClass = (typeof RUN_CLASSES)[number];

export const EXIT_CODE = {
  ok: 0,
  flaky: 0,
  'test-failure': 1,
  panic: 1,
  oops: 1,
  warning: 1,
  hang: 1,
  'boot-failure': 1,
  'build-failure': 1,
  'config-failure': 2,
  'apply-failure': 2,
  'usage-error': 2,
  'missing-dependency': 2,
  'infra-error': 2,
  // --backend kvm on a host where a kernel does not boot under KVM: the host's, not the kernel's.
  'kvm-unusable': 3,
  interrupted: 130,
} as const satisfies Record<RunClass, number>;

/** An error meant for a person: what went wrong, and what to do next. */
export class QkError extends Error {
  readonly runClass: RunClass;
  readonly hint: string | undefined;
  readonly logFile: string | undefined;
  readonly details: string | undefined;

  constructor(
    runClass: RunClass,
    message: string,
    extra: { hint?: string; logFile?: string; details?: string; cause?: unknown } = {},
  ) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = 'QkError';
    this.runClass = runClass;
    this.hint = extra.hint;
    this.logFile = extra.logFile;
    this.details = extra.details;
  }

  get exitCode(): number {
    return EXIT_CODE[this.runClass];
  }
}

/** Render any error as the short text a user sees (no stack traces). */
export function formatError(err: unknown): string {
  if (err instanceof QkError) {
    const lines = [`error (${err.runClass}): ${err.message}`];
    if (err.details) lines.push('', err.details.trimEnd());
    if (err.logFile) lines.push('', `full log: ${err.logFile}`);
    if (err.hint) lines.push('', `hint: ${err.hint}`);
    return lines.join('\n');
  }
  const msg = err instanceof Error ? err.message : String(err);
  return `error (infra-error): internal error: ${msg}\nhint: this is a bug in qmempool-kit; rerun with QK_DEBUG=1 for a stack trace and report it.`;
}

export function exitCodeOf(err: unknown): number {
  return err instanceof QkError ? err.exitCode : EXIT_CODE['infra-error'];
}

/** The first line of a formatError() text, without its "error (class): " prefix. */
export function errorHeadline(text: string | undefined): string | undefined {
  return text?.split('\n').find((l) => l.trim())?.replace(/^error \([\w-]+\): /, '');
}
