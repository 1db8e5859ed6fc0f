import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startViewer, type ViewerHarness } from './helpers/viewer-browser';
import { noChromium } from './helpers/skip';
import { startServe, type ServeProcess } from './helpers/serve';
import { slowProxy } from './helpers/slow-proxy';

// The viewer's "Model: server URL…" in a real Chromium against `instruct-scene serve` (CORS for the viewer's
// origin): an edit runs with its models on the server, with the usual progress; cancelling while a server call is
// held aborts that call and ends the edit as cancelled (no error).
const missing = noChromium();

describe.skipIf(missing !== null)('viewer with a model server (Chromium)', () => {
  let h: ViewerHarness;
  let srv: ServeProcess;
  beforeAll(async () => {
    h = await startViewer();
    srv = await startServe(['--model', 'builtin', '--cors', h.url.replace(/\/$/, ''), '--quiet']);
  }, 300_000);
  afterAll(async () => {
    await h?.close();
    await srv?.stop();
  });

  it('edits with the server model; cancel aborts the call in flight', async () => {
    const { page, errors } = await h.open();
    const proxy = await slowProxy(srv.url, 6000);
    try {
      await page.waitForFunction(() => (window.__instructScene?.info().count ?? 0) > 0, undefined, { timeout: 60_000 });
      await page.getByTestId('model-picker').locator('select').selectOption('server');
      await page.getByTestId('model-server-url').fill(srv.url);
      await page.getByTestId('views').fill('2');
      await page.getByTestId('steps').fill('3');
      await page.getByTestId('iters').fill('30');
      await page.getByTestId('run').click();
      // progress shows while the server edits the views (refit steps between them can be too quick to catch)
      await page
        .getByTestId('edit-step')
        .filter({ hasText: /edit|refit/ })
        .waitFor({ timeout: 120_000 });
      await page.getByTestId('history-count').filter({ hasText: '1 edit' }).waitFor({ timeout: 150_000 });
      const logs = await page.evaluate(() => window.__instructScene!.editLogs());
      const log = logs[0] as { model: { id: string; providers: string[] } };
      expect(log.model.id).toBe(srv.url);
      expect(log.model.providers).toEqual([`server ${srv.url}`]);
      await h.screenshot(page, 'viewer-remote-edit');

      // through a proxy that holds UNet calls: cancel while one is held
      await page.getByTestId('model-server-url').fill(proxy.url);
      await page.getByTestId('iters').fill('5000');
      const held = proxy.nextUnetCall();
      await page.getByTestId('run').click();
      await held;
      const t0 = Date.now();
      await page.getByTestId('cancel').click();
      await page.getByTestId('edit-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: 30_000 });
      expect(Date.now() - t0).toBeLessThan(5000); // not waiting for the held call
      for (let i = 0; i < 400 && proxy.stats.clientGone < 1; i++) await page.waitForTimeout(20);
      expect(proxy.stats.clientGone).toBeGreaterThanOrEqual(1);
      expect(await page.getByTestId('history-count').textContent()).toBe('1 edit');
      expect(await page.getByTestId('edit-error').count()).toBe(0);
      expect(errors).toEqual([]);
    } catch (e) {
      await h.screenshot(page, 'viewer-remote-failed').catch(() => {});
      const panel = await page
        .getByTestId('edit-progress')
        .textContent()
        .catch(() => '');
      throw new Error(`${(e as Error).message}\n(edit panel: ${panel})`);
    } finally {
      await proxy.close();
      await page.close();
    }
  }, 400_000);
});
