// Worker-thread entry for TypeScript worker modules: registers tsx in the worker (loader hooks are per thread),
// then loads the module named by workerData.entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';
register();
await import(workerData.entry);
