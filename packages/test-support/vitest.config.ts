import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: {
    name: 'test-support',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
  },
})
