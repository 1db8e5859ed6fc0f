import cliProgress from 'cli-progress';
import { oneLine } from './one-line';

/** Progress events, the same shape the viewer consumes. */
export interface ProgressEvent {
  phase: string;
  step: number;
  total: number;
  [key: string]: unknown;
}

/** Seconds between plain progress lines when stderr is not a terminal. */
const LINE_EVERY_S = 10;

/**
 * A progress reporter: a bar on a terminal's stderr; JSON lines on stdout with --json; otherwise (stderr piped or
 * redirected, as in CI) a plain line on stderr every 10 s of a phase (nothing for work that ends sooner).
 * Time left is estimated from the phase's average rate so far.
 */
export class Progress {
  private bar?: cliProgress.SingleBar;
  private phase = '';
  private phaseStart = 0;
  private startStep = 0;
  private lastLine = 0;
  constructor(
    private readonly mode: 'bar' | 'json' | 'lines' | 'off',
    private readonly now: () => number = () => performance.now() / 1000,
    private readonly write: (line: string) => void = (line) => process.stderr.write(line),
  ) {}

  static for(json: boolean | undefined): Progress {
    return new Progress(json ? 'json' : process.stderr.isTTY ? 'bar' : 'lines');
  }

  update(ev: ProgressEvent, label = ''): void {
    if (this.mode === 'json') {
      process.stdout.write(JSON.stringify({ event: 'progress', ...ev }) + '\n');
      return;
    }
    if (this.mode === 'off') return;
    const t = this.now();
    const newPhase = ev.phase !== this.phase || ev.step < this.startStep;
    if (newPhase) {
      this.phase = ev.phase;
      this.phaseStart = t;
      this.startStep = ev.step;
      this.lastLine = t;
    }
    const left = timeLeft(t - this.phaseStart, ev.step - this.startStep, ev.total - ev.step);
    if (this.mode === 'lines') {
      if (t - this.lastLine >= LINE_EVERY_S) {
        this.lastLine = t;
        const pct = ev.total > 0 ? ` (${Math.floor((100 * ev.step) / ev.total)}%)` : '';
        this.write(`${ev.phase} ${ev.step}/${ev.total}${pct}${left ? `, ${left} left` : ''}${label ? ` ${label}` : ''}\n`);
      }
      return;
    }
    if (newPhase || !this.bar) {
      this.bar?.stop();
      this.bar = new cliProgress.SingleBar(
        {
          format: `${ev.phase.padEnd(10)} [{bar}] {value}/{total} {left} {label}`,
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(ev.total, ev.step, { label, left: left ? `${left} left` : '' });
    }
    this.bar.update(ev.step, { label, left: left ? `${left} left` : '' });
  }

  done(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** Time left at the average rate so far ('' until a step has been made), e.g. `45s`, `3m05s`, `1h02m`. */
export function timeLeft(elapsedS: number, stepsDone: number, stepsLeft: number): string {
  if (!(stepsDone > 0) || !(elapsedS > 0) || stepsLeft < 0) return '';
  return formatDuration((elapsedS / stepsDone) * stepsLeft);
}

/** A duration for people: `0s`, `45s`, `3m05s`, `1h02m` (rounded up to the second). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.ceil(seconds);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

/** Prints a warning line on stderr (never on stdout, which --json keeps clean). */
export function warn(msg: string): void {
  process.stderr.write(`${oneLine(`warning: ${msg}`)}\n`);
}
