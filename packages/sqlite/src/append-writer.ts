// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.

import type { PendingAppend } from '@statesource/core/internal'
import { appendProgram } from './append-batch.ts'
import { type AppendContext, createAppendTransaction } from './append-transaction.js'
import { encodeBatch, RequestListReader } from './encoded-batch.js'
import { APPEND_SQL } from './journal-sql.ts'
import type { BetterSqliteDriver, KyselyDriver } from './sql-driver.ts'
import type { JournalWriterThread } from './writer-thread.ts'

/**
 * Runs one group-commit transaction for the journal. Every writer returns the results in the format of
 * `encoded-batch.js`; the journal turns them into outcomes with `applyResults`.
 */
export interface AppendWriter {
  /** Writes the requests in one transaction; throws or rejects only when the transaction failed as a whole. */
  write(
    requests: readonly PendingAppend[],
    events: number,
    context: AppendContext,
  ): number[] | Promise<number[]>
  /** Called after a transaction of this writer did not commit, so that no cached stream head outlives it. */
  invalidate(): void
}

/**
 * The transaction body on the application's better-sqlite3 connection: cached statements, synchronous, no
 * promise per statement.
 */
export function connectionWriter(driver: BetterSqliteDriver): AppendWriter {
  const body = createAppendTransaction(driver.database, APPEND_SQL)
  return {
    // A failed transaction is rolled back by writeSync; the journal then calls invalidate.
    write: (requests, _events, context) =>
      driver.writeSync(() => body.append(new RequestListReader(requests), context)),
    invalidate: () => body.invalidate(),
  }
}

/** The transaction as a program through a Kysely instance (`appendProgram`). */
export function kyselyWriter(driver: KyselyDriver): AppendWriter {
  return {
    write: (requests, _events, context) => driver.write(appendProgram(requests, context)),
    // The program reads every head inside its own transaction: nothing is cached.
    invalidate: () => {},
  }
}

/** The writer thread: the batch is encoded (`encoded-batch.js`) and posted to its own connection. */
export function threadWriter(thread: JournalWriterThread): AppendWriter {
  return {
    write: (requests, events, context) =>
      thread.append(encodeBatch(requests), events, context.now, context.writerId),
    // The thread drops its own cached heads when its transaction fails.
    invalidate: () => {},
  }
}
