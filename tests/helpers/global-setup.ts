import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest global setup: a folder shared by every test file of this run, where tests/helpers/skip.ts leaves a marker
 * when it has printed a skip reason, so each reason is printed once per run. Removed at the end.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'instruct-scene-test-notes-'));
  process.env.INSTRUCT_SCENE_TEST_NOTES = dir;
  return () => rmSync(dir, { recursive: true, force: true });
}
