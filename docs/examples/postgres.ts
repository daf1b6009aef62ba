// The PostgreSQL guide's examples. Run by packages/postgres/test/docs-example.test.ts against the test
// server (they need a PostgreSQL URL, which the docs tests do not have).
import { CqrsPattern, defineAggregate, ReaderFilter, silentLogger } from '@statesource/core'
// #region open
import { openPostgres } from '@statesource/postgres'
import { sql } from 'kysely'
import { assign, setup } from 'xstate'

export async function openDatabase(url: string, schema = 'statesource') {
  const pg = await openPostgres(url, {
    schema, // tables, the append function and the migration table live here
    poolSize: 10,
    statementTimeoutMs: 30_000,
    applicationName: 'orders-api',
  })
  // pg.journal, pg.readJournal(), pg.snapshotStore, pg.offsetStore, pg.scheduleStore,
  // pg.deadLetterStore, pg.kysely, pg.pool; pg.close() when done.
  return pg
}
// #endregion open

const account = defineAggregate({
  type: 'account',
  machine: setup({
    types: { context: {} as { balance: number }, events: {} as { type: 'deposited'; amount: number } },
  }).createMachine({
    id: 'account',
    context: { balance: 0 },
    on: {
      deposited: { actions: assign({ balance: ({ context, event }) => context.balance + event.amount }) },
    },
  }),
  commands: { deposit: (cmd: { amount: number }) => ({ type: 'deposited', amount: cmd.amount }) },
  tags: () => ['money'],
})

export async function main(url: string, schema: string, log: (line: string) => void = console.log) {
  const pg = await openDatabase(url, schema)
  const balances = sql.table(`${schema}.balances`)
  // #region projection
  const builder = CqrsPattern.builder({ journal: pg.journal })
    .withAggregate(account)
    .readJournal(pg.readJournal())
    .offsetStore(pg.offsetStore)
    .snapshotStore(pg.snapshotStore)
    .deadLetterStore(pg.deadLetterStore)
    .logger(silentLogger)
  const { createPostgresProjection } = await import('@statesource/postgres')
  const totals = builder.withReader(
    await createPostgresProjection({
      pg,
      name: 'balances',
      filter: ReaderFilter.tag('money'),
      setup: (db) =>
        sql`CREATE TABLE IF NOT EXISTS ${balances} (id text PRIMARY KEY, amount bigint NOT NULL)`.execute(db),
      initialState: 0,
      // `tx` is the event's transaction: the row and the offset commit together, or neither does.
      apply: async (count, event, envelope, tx) => {
        await sql`INSERT INTO ${balances} VALUES (${envelope.persistenceId}, ${Number(event.amount)})
          ON CONFLICT (id) DO UPDATE SET amount = ${balances}.amount + excluded.amount`.execute(tx)
        return count + 1
      },
    }),
  )
  // #endregion projection
  const handles = await builder.build().materialize()
  const accounts = handles.repository(account)
  await accounts.send('a-1', { type: 'deposit', amount: 5 })
  const { ordering } = await accounts.send('a-1', { type: 'deposit', amount: 7 })
  await totals.waitForOffset(ordering)
  const { rows } = await sql<{
    amount: string
  }>`SELECT amount FROM ${balances} WHERE id = 'account|a-1'`.execute(pg.kysely)
  log(`balance ${rows[0]?.amount}, offset ${await pg.offsetStore.load('balances')}`) // balance 12, offset 2
  // #region transaction
  await pg.transaction(async (tx) => {
    await sql`UPDATE ${balances} SET amount = 0`.execute(tx.kysely)
    await tx.offsets.save('balances-reset', ordering)
  })
  // #endregion transaction
  await handles.stop()
  await pg.close()
}
