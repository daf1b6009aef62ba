import { afterEach, describe, expect, it } from 'vitest'
import { main } from '../../../docs/examples/cluster.ts'
import { dropSchema, freshSchema, NATS_URL, PG_URL, reachable } from './cluster-harness.ts'

const up = (await reachable(NATS_URL)) && (await reachable(PG_URL))
const skipReason = up
  ? ''
  : `the cluster guide's example is skipped: NATS at ${NATS_URL} or PostgreSQL at ${PG_URL} not reachable`
if (!up && process.env.CI === 'true') throw new Error(`${skipReason}; under CI=true it must run.`)
if (!up) console.warn(skipReason)

describe.skipIf(!up)("the cluster guide's example", () => {
  let schema = ''
  afterEach(async () => {
    if (schema) await dropSchema(schema)
  })

  it('runs one node against the test servers and prints what the guide shows', async () => {
    schema = await freshSchema()
    const lines: string[] = []
    await main({ pgUrl: PG_URL, natsUrl: NATS_URL, schema }, (line) => lines.push(line))
    expect(lines).toEqual([
      'c-1 at version 1',
      'the same commandId again: duplicate=true, version 1',
      'readers running here: totals',
    ])
  })
})
