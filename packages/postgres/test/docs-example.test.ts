import { expect, it } from 'vitest'
import { main } from '../../../docs/examples/postgres.ts'
import { adminQuery, freshSchema, pgUrl } from './pg-test-server.ts'

it("the PostgreSQL guide's example runs and prints what its comments say", async () => {
  const schema = freshSchema()
  const lines: string[] = []
  try {
    await main(pgUrl(), schema, (line) => lines.push(line))
  } finally {
    await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  }
  expect(lines).toEqual(['balance 12, offset 2'])
})
