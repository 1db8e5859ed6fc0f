/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// One config for the viewer app (vite dev / build / preview) and the test runner (vitest).
export default defineConfig({
  root: '.',
  server: { host: '127.0.0.1' },
  build: { outDir: 'dist/app', target: 'es2022' },
  // dev server: scan the viewer's workers too, so their dependencies (onnxruntime-web, fflate) are pre-bundled up
  // front instead of being discovered mid-session (which reloads the page)
  optimizeDeps: { entries: ['index.html', 'src/viewer/**/*-worker.ts'] },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
    // skip reasons (no WebGPU adapter, no Chromium) are printed once per run: tests/helpers/skip.ts
    globalSetup: ['tests/helpers/global-setup.ts'],
  },
});
