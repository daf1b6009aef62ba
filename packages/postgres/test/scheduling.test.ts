import path from 'node:path'
import { describeSchedulingSuite } from '@statesource/test-support/scheduling-suite'
import { openPostgres } from '../src/index.ts'
import { adminQuery, freshSchema, pgUrl } from './pg-test-server.ts'

describeSchedulingSuite('PostgreSQL', () => {
  const schema = freshSchema()
  return {
    open: () => openPostgres(pgUrl(), { schema, listen: false }),
    process: {
      script: path.join(import.meta.dirname, 'fixtures/scheduling-child.ts'),
      args: [pgUrl(), schema],
    },
    dispose: async () => {
      await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    },
  }
})
