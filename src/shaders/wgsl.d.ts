// `import source from './kernel.wgsl?raw'` gives the WGSL text (Vite natively; Node via bin/wgsl-hooks.mjs).
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}
