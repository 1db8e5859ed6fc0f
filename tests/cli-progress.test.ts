import { describe, expect, it } from 'vitest';
import { formatDuration, Progress, timeLeft } from '../src/cli/progress';
import { dirLabel } from '../src/core/paths';

describe('progress reporting', () => {
  it('formats the time left as people read it, and says nothing until it is known', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(44.2)).toBe('45s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    // what cli-progress printed as "NFs" / "LLs": no rate yet, or an infinite one
    expect(timeLeft(5, 0, 100)).toBe('');
    expect(timeLeft(0, 3, 100)).toBe('');
    expect(timeLeft(Number.NaN, 3, 100)).toBe('');
    expect(timeLeft(10, 100, 200)).toBe('20s');
  });

  it('without a terminal: a plain line every 10 s of a phase, with the time left at the rate so far', () => {
    let t = 0;
    const lines: string[] = [];
    const p = new Progress(
      'lines',
      () => t,
      (l) => lines.push(l),
    );
    for (let step = 1; step <= 300; step++) {
      t = step * 0.2; // 5 steps a second: 60 s in all
      p.update({ phase: 'render', step, total: 300 });
    }
    expect(lines.length).toBe(5); // at 10, 20, 30, 40, 50 s
    expect(lines[0]).toBe('render 51/300 (17%), 50s left\n'); // the phase's clock starts at its first event (step 1)
    for (const l of lines) expect(l).toMatch(/^render \d+\/300 \(\d+%\), (\d+m)?\d+s left\n$/);
    // a new phase starts its own clock and rate
    p.update({ phase: 'fit', step: 0, total: 10 });
    t += 9;
    p.update({ phase: 'fit', step: 1, total: 10 });
    expect(lines.length).toBe(5);
    t += 2;
    p.update({ phase: 'fit', step: 2, total: 10 });
    expect(lines[5]).toBe('fit 2/10 (20%), 44s left\n');
  });

  it('prints folders with exactly one trailing slash', () => {
    expect(dirLabel('renders/')).toBe('renders/');
    expect(dirLabel('renders//')).toBe('renders/');
    expect(dirLabel('out')).toBe('out/');
    expect(dirLabel('/')).toBe('/');
  });
});
