import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Page } from 'playwright-core';
import { lookAtCamera } from '../src/core/camera';
import { ARTIFACTS, ROOT, startViewer, type ViewerHarness } from './helpers/viewer-browser';
import { noChromium } from './helpers/skip';

// Editing controls in a real Chromium: a model loaded from a URL (downloaded once, kept in the Cache API),
// guidance changed while the edit runs, pause / resume, cancel; an edit that survives a reload.
const missing = noChromium();

function filesUnder(dir: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out[`served-models/builtin/${relative(dir, p)}`] = new Uint8Array(readFileSync(p));
    }
  };
  walk(dir);
  return out;
}

async function status(page: Page): Promise<string> {
  return (
    (await page
      .getByTestId('edit-status')
      .textContent({ timeout: 1000 })
      .catch(() => '')) ?? ''
  );
}

describe.skipIf(missing !== null)('viewer edit controls (Chromium)', () => {
  let h: ViewerHarness;
  beforeAll(async () => {
    h = await startViewer({ extraPublic: filesUnder(join(ROOT, 'models/builtin')) });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('edits with a model from a URL (cached); guidance changes reach the running loop; pause, reject a view, resume, cancel', async () => {
    const { page, errors } = await h.open();
    try {
      await page.waitForFunction(() => (window.__instructScene?.info().count ?? 0) > 0, undefined, { timeout: 60_000 });
      await page.getByTestId('model-picker').locator('select').selectOption('url');
      await page.getByTestId('model-picker').locator('input[type=text]').fill(`${h.url}served-models/builtin/`);
      await page.getByTestId('views').fill('2');
      await page.getByTestId('steps').fill('3');

      // a long edit: change guidance while it runs, pause, resume, cancel
      await page.getByTestId('iters').fill('5000');
      await page.getByTestId('run').click();
      await page.getByTestId('edit-step').filter({ hasText: 'refit' }).waitFor({ timeout: 90_000 });
      await page.getByTestId('text-guidance').fill('12');
      await page
        .getByTestId('edit-applied')
        .filter({ hasText: /settings applied at step \d+ \(text 12,/ })
        .waitFor({ timeout: 30_000 });
      await page.getByTestId('pause').click();
      await page.getByTestId('resume').waitFor({ timeout: 60_000 });
      const pausedAt = Number(/paused at step (\d+)/.exec(await status(page))?.[1] ?? -1);
      expect(pausedAt).toBeGreaterThan(0);
      await page.waitForTimeout(1500);
      expect(await status(page)).toBe(`paused at step ${pausedAt}`);
      // reject the edit of a view while paused: its thumbnail goes, the loop confirms
      const thumb = page.getByTestId('thumbs').locator('img').first();
      const tid = await thumb.getAttribute('data-testid');
      await thumb.click();
      await page.getByTestId('edit-applied').filter({ hasText: 'edit rejected' }).waitFor({ timeout: 30_000 });
      expect(await page.getByTestId(tid!).count()).toBe(0);
      await page.getByTestId('resume').click();
      await page.waitForFunction(
        (p) => {
          const m = /refit (\d+)\//.exec(document.querySelector('[data-testid=edit-step]')?.textContent ?? '');
          return !!m && Number(m[1]) > p;
        },
        pausedAt,
        { timeout: 60_000 },
      );
      await page.getByTestId('cancel').click();
      await page.getByTestId('edit-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: 60_000 });
      expect(await page.getByTestId('history-count').textContent()).toBe('0 edits');

      // a short edit runs to the end: its log names the URL model and the guidance in use
      await page.getByTestId('iters').fill('30');
      await page.getByTestId('run').click();
      await page.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 150_000 });
      const logs = await page.evaluate(() => window.__instructScene!.editLogs());
      expect(logs).toHaveLength(1);
      const log = logs[0] as { model: { id: string }; settings: { textScale: number; iters: number } };
      expect(log.model.id).toContain('served-models/builtin');
      expect(log.settings.textScale).toBe(12);
      expect(log.settings.iters).toBe(30);
      // the model files were kept in the Cache API (a second load does not download them again)
      const cached = await page.evaluate(async () => (await (await caches.open('instruct-scene-models')).keys()).length);
      expect(cached).toBeGreaterThan(5);
      expect(errors).toEqual([]);
    } catch (e) {
      await h.screenshot(page, 'viewer-edit-controls').catch(() => {});
      const panel = await page
        .getByTestId('edit-progress')
        .textContent()
        .catch(() => '');
      throw new Error(`${(e as Error).message}\n(edit panel: ${panel})`);
    } finally {
      await page.close();
    }
  });

  it('an edit interrupted by a reload resumes from its checkpoint in the browser storage, with the result of an uninterrupted run', async () => {
    const { page, errors } = await h.open('?demo=voxel&res=32');
    await page.setViewportSize({ width: 320, height: 240 });
    const cam = { ...lookAtCamera([1.4, 1.0, 1.6], [0, 0.3, 0], [0, 1, 0], 48, 36, 40) };
    const camJson = { ...cam, c2w: Array.from(cam.c2w) };
    const render = async () => Array.from((await page.evaluate((c) => window.__instructScene!.renderPixels(c as never), camJson)).rgba);
    const keptStep = () =>
      page.evaluate(async () => {
        try {
          const root = await navigator.storage.getDirectory();
          const dir = await (await root.getDirectoryHandle('instruct-scene')).getDirectoryHandle('interrupted-edit');
          const job = JSON.parse(await (await (await dir.getFileHandle('job.json')).getFile()).text());
          return job.step as number;
        } catch {
          return -1;
        }
      });
    try {
      await page.waitForFunction(() => (window.__instructScene?.info().count ?? 0) > 0, undefined, { timeout: 60_000 });
      const before = await render();
      await page.getByTestId('views').fill('2');
      await page.getByTestId('steps').fill('3');
      await page.getByTestId('iters').fill('600');
      await page.getByTestId('text-guidance').fill('9');
      await page.getByTestId('run').click();
      // the edit keeps a checkpoint every few seconds; reload once one is kept (the worker dies mid-edit)
      await expect.poll(keptStep, { timeout: 120_000, interval: 100 }).toBeGreaterThanOrEqual(10);
      const progressAtReload = (await page.getByTestId('edit-step').textContent()) ?? '';
      await page.reload();
      await page.waitForFunction(() => (window.__instructScene?.info().count ?? 0) > 0, undefined, { timeout: 60_000 });
      const offer = page.getByTestId('interrupted-edit');
      await offer.waitFor({ timeout: 30_000 });
      mkdirSync(ARTIFACTS, { recursive: true });
      await offer.screenshot({ path: join(ARTIFACTS, 'viewer-edit-interrupted.png') });
      const kept = Number(/step (\d+)\/600/.exec((await offer.textContent()) ?? '')?.[1]);
      expect(kept % 10).toBe(0);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(600);
      await page.getByTestId('resume-interrupted').click();
      await page.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 150_000 });
      const resumed = await render();
      const logs = await page.evaluate(() => window.__instructScene!.editLogs());
      const log = logs[0] as { settings: { textScale: number; iters: number }; times: { resumed: boolean } };
      expect(log.settings).toMatchObject({ textScale: 9, iters: 600 }); // the edit's settings, restored with it
      expect(log.times.resumed).toBe(true);
      expect(await keptStep()).toBe(-1); // a finished edit is not kept
      // the same edit without interruption, from the same scene: the same result, bit for bit
      await page.getByTestId('undo').click();
      await page.getByTestId('history-count').filter({ hasText: '0 edits' }).waitFor();
      expect(await render()).toEqual(before);
      await page.getByTestId('run').click();
      await page.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 150_000 });
      const uninterrupted = await render();
      let changed = 0;
      for (let i = 0; i < before.length; i += 4)
        if (Math.abs(uninterrupted[i] - before[i]) + Math.abs(uninterrupted[i + 2] - before[i + 2]) > 8) changed++;
      console.log(`reload at "${progressAtReload}"; the edit changed ${changed} of ${before.length / 4} pixels`);
      expect(changed).toBeGreaterThan(10);
      expect(resumed).toEqual(uninterrupted);
      expect(errors).toEqual([]);
    } catch (e) {
      await h.screenshot(page, 'viewer-edit-reload').catch(() => {});
      throw e;
    } finally {
      await page.close();
    }
  }, 420_000);

  it('runs a short SDS edit on a voxel scene (ray-marched before and after)', async () => {
    const { page, errors } = await h.open('?demo=voxel&res=32');
    await page.setViewportSize({ width: 320, height: 240 });
    try {
      await page.waitForFunction(() => (window.__instructScene?.info().count ?? 0) > 0, undefined, { timeout: 60_000 });
      const cam = { ...lookAtCamera([1.4, 1.0, 1.6], [0, 0.3, 0], [0, 1, 0], 48, 36, 40) };
      const camJson = { ...cam, c2w: Array.from(cam.c2w) };
      const render = async () => (await page.evaluate((c) => window.__instructScene!.renderPixels(c as never), camJson)).rgba;
      const before = await render();
      await page.getByTestId('method').selectOption('sds');
      await page.getByTestId('iters').fill('20');
      await page.getByTestId('views').fill('2');
      await page.getByTestId('run').click();
      await page.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 150_000 });
      const logs = await page.evaluate(() => window.__instructScene!.editLogs());
      expect((logs[0] as { method: string }).method).toBe('sds');
      const after = await render();
      let changed = 0;
      for (let i = 0; i < after.length; i += 4)
        if (Math.max(...[0, 1, 2].map((c) => Math.abs(after[i + c] - before[i + c]))) > 4) changed++;
      console.log(`voxel SDS edit changed ${changed} of ${after.length / 4} pixels`);
      expect(changed).toBeGreaterThan(10);
      expect(errors).toEqual([]);
    } catch (e) {
      await h.screenshot(page, 'viewer-voxel-sds').catch(() => {});
      throw e;
    } finally {
      await page.close();
    }
  });
});
