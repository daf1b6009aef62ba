import { defineProject } from 'vitest/config'
import { resolveSource } from '../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: { name: 'docs', include: ['**/*.test.ts'], exclude: ['**/node_modules/**'], testTimeout: 60_000 },
})
