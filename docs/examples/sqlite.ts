import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EventEnvelope } from '@statesource/core'
// #region open
import { openSqlite } from '@statesource/sqlite'

export async function openDatabase(file: string) {
  const sqlite = await openSqlite(file, { synchronous: 'FULL', busyTimeoutMs: 5_000 })
  // sqlite.journal, sqlite.readJournal(), sqlite.snapshotStore, sqlite.offsetStore,
  // sqlite.kysely (Kysely<StatesourceTables>), sqlite.db (the better-sqlite3 connection);
  // sqlite.close() when done.
  return sqlite
}
// #endregion open

export async function main(log: (line: string) => void = console.log) {
  const dir = mkdtempSync(join(tmpdir(), 'statesource-docs-'))
  const file = join(dir, 'app.db')
  const sqlite = await openDatabase(file)
  sqlite.db!.exec('CREATE TABLE balances (id TEXT PRIMARY KEY, amount INTEGER NOT NULL)')
  const [outcome] = await sqlite.journal.append([
    {
      persistenceId: 'account|a-1',
      expectedSeqNr: 0,
      events: [{ type: 'deposited', version: 1, payload: { amount: 5 }, tags: [], metadata: {} }],
    },
  ])
  const envelope = (outcome as { envelopes: readonly EventEnvelope[] }).envelopes[0]!
  const amount = (envelope.payload as { amount: number }).amount
  // #region transaction
  sqlite.transaction((tx) => {
    tx.db
      .prepare(
        'INSERT INTO balances (id, amount) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET amount = amount + excluded.amount',
      )
      .run(envelope.persistenceId, amount)
    tx.offsets.save('balances', envelope.ordering)
  })
  // #endregion transaction
  const row = sqlite.db!.prepare('SELECT amount FROM balances WHERE id = ?').get('account|a-1') as {
    amount: number
  }
  log(`balance ${row.amount}, offset ${await sqlite.offsetStore.load('balances')}`) // balance 5, offset 1
  // #region writer-thread
  // A burst of 100 appends: the writer thread gets the first 50 as soon as they are queued and starts
  // writing them while the rest are decided; what arrives meanwhile goes into its next transaction.
  const before = sqlite.journal.stats
  await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      sqlite.journal.append([
        {
          persistenceId: `account|burst-${i}`,
          expectedSeqNr: 0,
          events: [{ type: 'deposited', version: 1, payload: { amount: 1 }, tags: [], metadata: {} }],
        },
      ]),
    ),
  )
  const after = sqlite.journal.stats
  const transactions = after.transactions - before.transactions
  log(
    `${after.events - before.events} events in ${transactions <= 2 ? 'one or two transactions' : `${transactions} transactions`}`,
  ) // 100 events in one or two transactions
  // #endregion writer-thread
  await sqlite.close()
  rmSync(dir, { recursive: true, force: true })
}
