import { defineProject } from 'vitest/config'
import { resolveSource } from '../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: {
    name: 'acceptance',
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**'],
    testTimeout: 60_000,
    // The browser tests' hooks run the demo and start Chromium: on a loaded 2-core machine that is more than 10 s.
    hookTimeout: 120_000,
  },
})
