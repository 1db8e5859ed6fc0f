import cliProgress from 'cli-progress';
import { oneLine } from './one-line';

/** Progress events, the same shape the viewer consumes. */
export interface ProgressEvent {
  phase: string;
  step: number;
  total: number;
  [key: string]: unknown;
}

/**
 * A progress reporter: a bar on a TTY's stderr, JSON lines on stdout with --json, nothing otherwise.
 */
export class Progress {
  private bar?: cliProgress.SingleBar;
  private phase = '';
  constructor(private readonly mode: 'bar' | 'json' | 'off') {}

  static for(json: boolean | undefined): Progress {
    return new Progress(json ? 'json' : process.stderr.isTTY ? 'bar' : 'off');
  }

  update(ev: ProgressEvent, label = ''): void {
    if (this.mode === 'json') {
      process.stdout.write(JSON.stringify({ event: 'progress', ...ev }) + '\n');
      return;
    }
    if (this.mode !== 'bar') return;
    if (ev.phase !== this.phase || !this.bar) {
      this.bar?.stop();
      this.phase = ev.phase;
      this.bar = new cliProgress.SingleBar(
        {
          format: `${ev.phase.padEnd(10)} [{bar}] {value}/{total} {eta_formatted} {label}`,
          stream: process.stderr,
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(ev.total, ev.step, { label });
    }
    this.bar.update(ev.step, { label });
  }

  done(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** Prints a warning line on stderr (never on stdout, which --json keeps clean). */
export function warn(msg: string): void {
  process.stderr.write(`${oneLine(`warning: ${msg}`)}\n`);
}
