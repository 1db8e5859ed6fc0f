import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READERS } from './helpers/fuzz/readers';
import { runCase, type CaseResult } from './helpers/fuzz/run-case';

/**
 * Seeded, bounded mutation fuzzing of every reader in tests/helpers/fuzz/readers.ts, in-process (the long
 * campaign with crash, hang and memory accounting is `npm run fuzz`). Each accepted input must pass the
 * reader's sanity check; each refusal must be a one-line UserError; no case may change its input files.
 */
const CASES = 60;
const SEED = 17;
const dir = mkdtempSync(join(tmpdir(), 'is-hostile-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe(`fuzz: ${CASES} mutated inputs per reader (seed ${SEED})`, () => {
  for (const reader of READERS)
    it(
      reader.name,
      async () => {
        const seeds = await reader.seeds();
        const results: CaseResult[] = [];
        try {
          for (let i = 0; i < CASES; i++) results.push(await runCase(reader, seeds, SEED, i, join(dir, reader.name)));
        } finally {
          await reader.dispose?.();
        }
        const bad = results.filter((r) => r.outcome === 'internal' || r.outcome === 'garbage' || r.modified || r.multiline);
        expect(bad.map((r) => `case ${r.index} ${r.outcome}${r.modified ? ' (input modified)' : ''}: ${r.mutation}: ${r.message}`)).toEqual(
          [],
        );
        // the mutations reach the reader's refusals, and some inputs stay acceptable
        expect(results.filter((r) => r.outcome === 'clean').length).toBeGreaterThan(CASES / 3);
      },
      120_000,
    );
});
