import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: {
    name: 'inspect',
    include: ['test/**/*.test.ts'],
    // The browser test starts Chromium and a viewer server; give it room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
