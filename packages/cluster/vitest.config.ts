import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: {
    name: 'cluster',
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
  },
})
