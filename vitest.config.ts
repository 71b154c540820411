import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts the one redis-server the whole run shares (see test/global_setup.ts).
    globalSetup: ['test/global_setup.ts'],
    // Tests spawn sidecars and load ONNX models on a loaded 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Child processes rather than worker threads: onnxruntime-node's native
    // addon and our signal/exit hooks behave best in a process of their own.
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
  },
});
