import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: { name: 'sqlite', include: ['test/**/*.test.ts'], testTimeout: 30_000 },
})
