/**
 * Logging is injected: the CLI passes a console logger, tests a capturing one.
 * Progress shows a bar on a terminal and sparse percentage lines elsewhere.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(fraction: number, detail?: string): void;
  stop(): void;
}

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  progress(label: string): Progress;
}

export function consoleLogger(o: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Logger {
  const out = o.stream ?? process.stderr;
  const tty = Boolean(out.isTTY) && !process.env['CI'];
  return {
    info: (m) => {
      if (!o.quiet) out.write(`${m}\n`);
    },
    warn: (m) => out.write(`warning: ${m}\n`),
    progress(label) {
      if (o.quiet) return { update: () => {}, stop: () => {} };
      if (tty) {
        const bar = new cliProgress.SingleBar(
          { format: `${label} [{bar}] {percentage}% {detail}`, hideCursor: true, stream: out, clearOnComplete: false, barsize: 30 },
          cliProgress.Presets.shades_classic,
        );
        bar.start(100, 0, { detail: '' });
        return {
          update: (f, d) => bar.update(Math.round(Math.min(1, f) * 100), { detail: (d ?? '').slice(0, 40) }),
          stop: () => bar.stop(),
        };
      }
      let shown = -1;
      return {
        update: (f) => {
          const pct = Math.floor(Math.min(1, f) * 10) * 10;
          if (pct > shown) {
            shown = pct;
            out.write(`${label}: ${pct}%\n`);
          }
        },
        stop: () => {},
      };
    },
  };
}

export function captureLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    progress: (label) => ({ update: (f) => lines.push(`${label} ${Math.round(f * 100)}%`), stop: () => {} }),
  };
}
