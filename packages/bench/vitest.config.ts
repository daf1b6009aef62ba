import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: { name: 'bench', include: ['test/**/*.test.ts'], testTimeout: 180_000, hookTimeout: 180_000 },
})
