/**
 * Fuzz campaign over every reader in tests/helpers/fuzz/readers.ts (issue 17's targets: no crash, no hang,
 * no run over the memory budget, no internal error, no silent garbage, no input modified).
 *
 *   npm run fuzz -- [--cases N] [--seed S] [--readers ply,png,…] [--timeout-ms T] [--budget-mb M] [--out FILE]
 *
 * Each reader's cases run in a child process (bin/run-ts.mjs bench/fuzz.ts --worker …) so that a crash (a
 * signal, an abort) or a hang (no result within --timeout-ms) is caught and counted, and the child restarts at
 * the next case. Before each case the child resets its peak RSS (/proc/self/clear_refs) and reports the peak
 * after it (VmHWM), so a case over --budget-mb (default 2048) is counted. Prints a table and writes JSON
 * (default bench/results/fuzz.json). Same seed → same cases.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { READERS, readerNamed } from '../tests/helpers/fuzz/readers';
import { runCase, type CaseResult } from '../tests/helpers/fuzz/run-case';

const { values: o } = parseArgs({
  options: {
    cases: { type: 'string', default: '200' },
    seed: { type: 'string', default: '1' },
    readers: { type: 'string' },
    'timeout-ms': { type: 'string', default: '30000' },
    'budget-mb': { type: 'string', default: '2048' },
    out: { type: 'string', default: 'bench/results/fuzz.json' },
    worker: { type: 'boolean' },
    reader: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
  },
});

function peakMb(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}
function resetPeak(): void {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
  } catch {
    /* not Linux: the peak is then the process's, an upper bound */
  }
}

type Msg = { type: 'start'; index: number } | { type: 'result'; result: CaseResult & { peakMb: number | null } };

async function worker(): Promise<void> {
  const reader = readerNamed(o.reader!);
  const seeds = await reader.seeds();
  const dir = join(tmpdir(), `is-fuzz-${process.pid}`);
  const seed = Number(o.seed);
  for (let i = Number(o.from); i < Number(o.to); i++) {
    process.send!({ type: 'start', index: i } satisfies Msg);
    resetPeak();
    const r = await runCase(reader, seeds, seed, i, dir);
    process.send!({ type: 'result', result: { ...r, message: r.message?.slice(0, 300), peakMb: peakMb() } } satisfies Msg);
  }
  rmSync(dir, { recursive: true, force: true });
  await reader.dispose?.();
  process.disconnect?.();
}

interface Row {
  reader: string;
  cases: number;
  accepted: number;
  clean: number;
  internal: number;
  hangs: number;
  crashes: number;
  overBudget: number;
  modified: number;
  garbage: number;
  multiline: number;
  peakMb: number;
  seconds: number;
  examples: { index: number; kind: string; mutation?: string; message?: string }[];
}

function runReader(name: string, cases: number, seed: number, timeoutMs: number, budgetMb: number): Promise<Row> {
  const row: Row = {
    reader: name,
    cases: 0,
    accepted: 0,
    clean: 0,
    internal: 0,
    hangs: 0,
    crashes: 0,
    overBudget: 0,
    modified: 0,
    garbage: 0,
    multiline: 0,
    peakMb: 0,
    seconds: 0,
    examples: [],
  };
  const t0 = performance.now();
  const note = (index: number, kind: string, r?: Partial<CaseResult>) => {
    if (row.examples.length < 8) row.examples.push({ index, kind, mutation: r?.mutation, message: r?.message });
  };
  return new Promise((done) => {
    let next = 0;
    let current = -1;
    let child: ChildProcess | null = null;
    let timer: NodeJS.Timeout | null = null;
    const arm = () => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        row.hangs++;
        row.cases++;
        note(current, 'hang');
        next = current + 1;
        current = -1;
        child?.removeAllListeners('exit');
        child?.kill('SIGKILL');
        start();
      }, timeoutMs);
    };
    const start = () => {
      if (next >= cases) {
        if (timer) clearTimeout(timer);
        row.seconds = (performance.now() - t0) / 1000;
        done(row);
        return;
      }
      child = fork(
        resolve('bin/run-ts.mjs'),
        ['bench/fuzz.ts', '--worker', '--reader', name, '--seed', String(seed), '--from', String(next), '--to', String(cases)],
        {
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        },
      );
      child.stderr?.resume();
      child.on('message', (m: Msg) => {
        if (m.type === 'start') {
          current = m.index;
          arm();
          return;
        }
        const r = m.result;
        row.cases++;
        next = r.index + 1;
        current = -1;
        row[r.outcome === 'accepted' ? 'accepted' : r.outcome]++;
        if (r.outcome === 'internal' || r.outcome === 'garbage') note(r.index, r.outcome, r);
        if (r.modified) {
          row.modified++;
          note(r.index, 'modified', r);
        }
        if (r.multiline) {
          row.multiline++;
          note(r.index, 'multiline', r);
        }
        if (r.peakMb !== null) {
          row.peakMb = Math.max(row.peakMb, r.peakMb);
          if (r.peakMb > budgetMb) {
            row.overBudget++;
            note(r.index, `over budget (${r.peakMb.toFixed(0)} MB)`, r);
          }
        }
      });
      child.on('exit', (code, signal) => {
        if (timer) clearTimeout(timer);
        if (current >= 0) {
          row.crashes++;
          row.cases++;
          note(current, `crash (${signal ?? `exit ${code}`})`);
          next = current + 1;
          current = -1;
        }
        start();
      });
    };
    start();
  });
}

async function campaign(): Promise<void> {
  const cases = Number(o.cases),
    seed = Number(o.seed);
  const names = o.readers ? o.readers.split(',') : READERS.map((r) => r.name);
  for (const n of names) readerNamed(n);
  const rows: Row[] = [];
  console.log(
    `fuzz: ${cases} cases per reader × ${names.length} readers, seed ${seed}, hang after ${o['timeout-ms']} ms, budget ${o['budget-mb']} MB`,
  );
  for (const n of names) {
    const row = await runReader(n, cases, seed, Number(o['timeout-ms']), Number(o['budget-mb']));
    rows.push(row);
    console.log(
      `  ${n.padEnd(11)} ${row.cases} cases in ${row.seconds.toFixed(1)} s: ${row.accepted} accepted, ${row.clean} clean errors, ${row.internal} internal, ${row.hangs} hangs, ${row.crashes} crashes, ${row.overBudget} over budget, ${row.modified} modified, ${row.garbage} garbage`,
    );
    for (const e of row.examples) console.log(`      case ${e.index} ${e.kind}: ${e.mutation ?? ''} ${e.message ?? ''}`.slice(0, 300));
  }
  const cols: [string, keyof Row][] = [
    ['reader', 'reader'],
    ['cases', 'cases'],
    ['accepted', 'accepted'],
    ['clean errors', 'clean'],
    ['internal errors', 'internal'],
    ['hangs', 'hangs'],
    ['crashes', 'crashes'],
    ['over budget', 'overBudget'],
    ['inputs modified', 'modified'],
    ['silent garbage', 'garbage'],
    ['multi-line', 'multiline'],
    ['peak MB', 'peakMb'],
  ];
  const total: Row = { ...rows[0], reader: 'total', examples: [] };
  for (const [, k] of cols.slice(1))
    (total as any)[k] = k === 'peakMb' ? Math.max(...rows.map((r) => r.peakMb)) : rows.reduce((s, r) => s + (r[k] as number), 0);
  const fmt = (r: Row, k: keyof Row) => (k === 'peakMb' ? (r[k] as number).toFixed(0) : String(r[k]));
  console.log(`\n| ${cols.map((c) => c[0]).join(' | ')} |\n|${cols.map(() => '---').join('|')}|`);
  for (const r of [...rows, total]) console.log(`| ${cols.map(([, k]) => fmt(r, k)).join(' | ')} |`);
  const out = o.out!;
  mkdirSync(resolve(out, '..'), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        seed,
        casesPerReader: cases,
        budgetMb: Number(o['budget-mb']),
        timeoutMs: Number(o['timeout-ms']),
        cpus: cpus().length,
        rows,
        total,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwrote ${out}`);
  const bad = total.internal + total.hangs + total.crashes + total.overBudget + total.modified + total.garbage;
  process.exitCode = bad ? 1 : 0;
}

await (o.worker ? worker() : campaign());
