import { defaultClientConditions, defineConfig } from 'vite';

// Library build of the viewer (`npm run build:lib`): ES module + typings in dist/lib, for other R3F apps.
// React, three, R3F, zustand, onnxruntime-web and fflate stay external (the host app provides them).
const external = [
  /^react($|\/)/,
  /^react-dom($|\/)/,
  /^three($|\/)/,
  /^@react-three\/fiber/,
  /^zustand($|\/)/,
  /^onnxruntime-web($|\/)/,
  /^fflate$/,
];

export default defineConfig({
  root: '.',
  publicDir: false,
  // onnxruntime-web without its embedded .wasm (library mode would inline ~25 MB as base64): the host serves the
  // .wasm files (node_modules/onnxruntime-web/dist/*.wasm) and passes their folder as `ortWasmPaths`.
  resolve: { conditions: [...defaultClientConditions, 'onnxruntime-web-use-extern-wasm'] },
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    lib: { entry: 'src/viewer/index.ts', formats: ['es'], fileName: () => 'instruct-scene-viewer.js' },
    rolldownOptions: { external },
  },
  worker: { format: 'es' },
});
