/**
 * Progress on stderr: a bar redrawn in place (at most ten times a second) when stderr is a
 * terminal, plain lines otherwise (at most one every few seconds, so CI logs stay readable).
 * Results never go here; they go to stdout.
 */
import pc from 'picocolors';

/** Options of {@link Progress}. */
export interface ProgressOptions {
  /** Say nothing. */
  readonly quiet?: boolean;
  /** Where to write. @defaultValue process.stderr */
  readonly stream?: NodeJS.WriteStream;
  /** Seconds between plain progress lines when not on a terminal. @defaultValue 5 */
  readonly lineInterval?: number;
}

const BAR_WIDTH = 24;

/** A progress reporter for one command. */
export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private readonly quiet: boolean;
  private readonly lineInterval: number;
  private phase = '';
  private phaseStarted = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true && process.env.TERM !== 'dumb';
    this.quiet = options.quiet ?? false;
    this.lineInterval = (options.lineInterval ?? 5) * 1000;
  }

  /** Starts a named phase (`loading data.csv`, `fitting`). */
  start(phase: string): void {
    this.clear();
    this.phase = phase;
    this.phaseStarted = performance.now();
    this.lastDraw = 0;
    if (!this.tty) this.line(`${phase} …`);
  }

  /** Reports how far the phase is (fraction in [0, 1], or NaN when unknown) with a short detail. */
  update(fraction: number, detail = ''): void {
    if (this.quiet) return;
    const now = performance.now();
    if (this.tty) {
      if (now - this.lastDraw < 100 && fraction < 1) return;
      this.lastDraw = now;
      const bar = Number.isNaN(fraction)
        ? ''
        : `${renderBar(fraction)} ${(fraction * 100).toFixed(0).padStart(3)}% `;
      const elapsed = formatSeconds((now - this.phaseStarted) / 1000);
      this.stream.write(`\r\x1b[2K${pc.cyan(this.phase)} ${bar}${detail} ${pc.dim(`[${elapsed}]`)}`);
      this.drawn = true;
      return;
    }
    if (now - this.lastDraw < this.lineInterval) return;
    if (this.lastDraw === 0) {
      // The start line was just written; wait a full interval before the first update line.
      this.lastDraw = now;
      return;
    }
    this.lastDraw = now;
    const pct = Number.isNaN(fraction) ? '' : ` ${(fraction * 100).toFixed(0)}%`;
    this.line(`${this.phase}${pct} ${detail}`.trimEnd());
  }

  /** Ends the phase with a one-line summary. */
  done(summary: string): void {
    this.clear();
    const seconds = (performance.now() - this.phaseStarted) / 1000;
    this.line(`${this.phase}: ${summary} (${formatSeconds(seconds)})`);
  }

  /** A log line (warnings, notes). */
  note(text: string): void {
    this.clear();
    this.line(text);
  }

  /** A warning line, highlighted on a terminal. */
  warn(text: string): void {
    this.clear();
    if (!this.quiet) this.stream.write(`${pc.yellow('warning:')} ${text}\n`);
  }

  private line(text: string): void {
    if (!this.quiet) this.stream.write(`${text}\n`);
  }

  private clear(): void {
    if (this.drawn) {
      this.stream.write('\r\x1b[2K');
      this.drawn = false;
    }
  }
}

function renderBar(fraction: number): string {
  const f = Math.max(0, Math.min(1, fraction));
  const full = Math.round(f * BAR_WIDTH);
  return `▕${'█'.repeat(full)}${' '.repeat(BAR_WIDTH - full)}▏`;
}

/** Seconds as `0.42s`, `12.3s` or `3m05s`. */
export function formatSeconds(s: number): string {
  if (s < 10) return `${s.toFixed(2)}s`;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}
