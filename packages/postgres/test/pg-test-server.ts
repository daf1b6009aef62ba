import { randomUUID } from 'node:crypto'
import pg from 'pg'
import { inject } from 'vitest'
import { openPostgres, type PostgresOptions, type StatesourcePostgres } from '../src/index.ts'
// The ProvidedContext augmentation that types inject('pgUrl').
import type {} from './global-setup.ts'

/** The URL of the test server (see `global-setup.ts`). */
export function pgUrl(): string {
  return inject('pgUrl')
}

/** A fresh schema name, so tests and runs never share tables. */
export function freshSchema(prefix = 'ss_test'): string {
  return `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 16)}`
}

/** Runs SQL on a short-lived connection of its own. */
export async function adminQuery<R extends pg.QueryResultRow = any>(
  text: string,
  params: unknown[] = [],
  url = pgUrl(),
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

/** Opens statesource in a fresh schema; `dispose` closes it and drops the schema. */
export async function openFresh(
  options: PostgresOptions = {},
): Promise<{ pg: StatesourcePostgres; schema: string; dispose: () => Promise<void> }> {
  const schema = options.schema ?? freshSchema()
  const opened = await openPostgres(pgUrl(), { ...options, schema })
  return {
    pg: opened,
    schema,
    dispose: async () => {
      await opened.close()
      await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    },
  }
}

/** A client connected on its own (for transactions held open by a test). */
export async function connectClient(url = pgUrl()): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  client.on('error', () => undefined)
  await client.connect()
  return client
}
