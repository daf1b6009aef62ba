import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  test: { name: 'core', include: ['test/**/*.test.ts'] },
})
