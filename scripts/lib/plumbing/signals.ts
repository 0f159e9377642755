/**
 * Ctrl-C and kill: the first SIGINT or SIGTERM stops the run in order (the
 * abort signal reaches every stage, every child process group is killed, the
 * stages record "interrupted"); a second one exits at once. Whatever happens,
 * no child outlives the process.
 */
import { EXIT_CODE } from './errors.ts';
import { killAllChildren } from './proc.ts';

export interface InterruptOptions {
  /** Called on the first signal, once the run is aborted and its children killed. */
  readonly onFirst?: (sig: NodeJS.Signals) => void;
}

/**
 * Run fn with SIGINT and SIGTERM handlers installed, and remove them when fn
 * settles. First signal: one line on stderr, abort fn's signal, kill every
 * child process group. Second signal: kill them again and exit with 130.
 */
export async function withInterrupts<T>(fn: (signal: AbortSignal) => Promise<T>, o: InterruptOptions = {}): Promise<T> {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      killAllChildren();
      process.exit(EXIT_CODE.interrupted);
    }
    process.stderr.write(`\n${sig}: stopping guests and builds ...\n`);
    ac.abort();
    killAllChildren();
    o.onFirst?.(sig);
  };
  const onExit = () => killAllChildren();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}
