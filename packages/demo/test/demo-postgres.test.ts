import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { expect, inject, it } from 'vitest'
// The ProvidedContext augmentation that types inject('pgUrl').
import type {} from '../../postgres/test/global-setup.ts'
import { runDemo } from '../src/app.ts'

it('runs on PostgreSQL and continues from the same schema on a second run', async () => {
  const postgresUrl = inject('pgUrl')
  const postgresSchema = `demo_${randomUUID().replaceAll('-', '').slice(0, 12)}`
  const options = { dbPath: 'unused.db', postgresUrl, postgresSchema, quiet: true, paymentWindowMs: 60_000 }
  try {
    const first = await runDemo({ ...options, orders: 30, reset: true })
    expect(first.commands.unexpected).toEqual([])
    expect(first.database).toBe(
      `schema "${postgresSchema}" on ${new URL(postgresUrl).host}${new URL(postgresUrl).pathname}`,
    )
    expect(first.events.inJournal).toBe(first.events.persisted)
    expect(first.projections.offsets['orders-by-status']).toBe(first.events.inJournal)
    const counted = Object.values(first.projections.ordersByStatus).reduce((a, b) => a + b, 0)
    expect(counted).toBe(30)

    const second = await runDemo({ ...options, orders: 20 })
    expect(second.run).toBe(2)
    expect(second.orders.first).toBe(31)
    expect(second.commands.unexpected).toEqual([])
    expect(second.projections.offsetsAtStart['orders-by-status']).toBe(first.events.inJournal)
    expect(second.events.inJournal).toBe(first.events.inJournal + second.events.persisted)
    expect(Object.values(second.projections.ordersByStatus).reduce((a, b) => a + b, 0)).toBe(50)
  } finally {
    const client = new pg.Client({ connectionString: postgresUrl })
    await client.connect()
    await client.query(`DROP SCHEMA IF EXISTS "${postgresSchema}" CASCADE`)
    await client.end()
  }
}, 180_000)
