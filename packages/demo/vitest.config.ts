import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  // Each test runs the demo end to end on a real SQLite file (or spawns the CLI): seconds, not milliseconds.
  test: { name: 'demo', include: ['test/**/*.test.ts'], testTimeout: 60_000 },
})
