// `node --import ./bin/wgsl-register.mjs …`: registers the `?raw` import hooks (see wgsl-hooks.mjs).
import { register } from 'node:module';
register('./wgsl-hooks.mjs', import.meta.url);
