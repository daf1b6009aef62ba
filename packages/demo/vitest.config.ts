import { defineProject } from 'vitest/config'
import { resolveSource } from '../../vitest.shared.ts'

export default defineProject({
  ...resolveSource,
  // Each test runs the demo end to end on a real SQLite file (or spawns the CLI): seconds, not milliseconds.
  // The PostgreSQL run finds its server like the @statesource/postgres tests do (STATESOURCE_PG_URL, else an
  // embedded PostgreSQL started for the run).
  test: {
    name: 'demo',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['../postgres/test/global-setup.ts'],
  },
})
