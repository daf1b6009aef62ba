import { defineProject } from 'vitest/config'

export default defineProject({
  test: {
    name: 'acceptance',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    // Acceptance hooks do real work (running the demo on a file synced at every commit, starting a browser).
    hookTimeout: 60_000,
  },
})
