// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.

import { Worker } from 'node:worker_threads'
import { JournalError, JournalOutcomeUnknownError } from '@statesource/core'
import type { AppendSql } from './append-transaction.js'
import { type EncodedBatch, storedIn } from './encoded-batch.js'

/** What the writer thread needs to open its own connection to the database file. */
export interface WriterThreadConfig {
  /** The database file, absolute; it exists and is migrated before the thread opens it. */
  readonly file: string
  /** Pragmas for the thread's connection (`synchronous` and `busy_timeout` are per connection). */
  readonly pragmas: readonly string[]
  readonly sql: AppendSql
  /** Batches waiting for the thread are merged into one transaction up to about this many events. */
  readonly maxBatchEvents: number
  /** @internal The worker script; tests substitute one that fails. Default `journal-writer.worker.js`. */
  readonly workerUrl?: URL
}

/** One transaction of the thread: the results of each batch it took, or the error that rolled it back. */
type Reply =
  | { results: number[][]; requests: number; committedAt: number }
  | { count: number; requests: number; error: { message: string; code: string | undefined } }

/**
 * The main-thread side of the journal's writer thread, a worker that owns a second connection to the file.
 * Batches are posted as soon as they are formed; the thread writes whatever has arrived while it was busy in
 * one transaction, and answers each batch with its results, in the order posted.
 *
 * @remarks
 * The worker starts on the first batch and is unreferenced while idle, so an application that never closes
 * its database can still exit; while a batch is in flight it keeps the process alive until the commit is
 * reported. If the thread dies with batches in flight, they fail with a `JournalOutcomeUnknownError`
 * (`JOURNAL_OUTCOME_UNKNOWN`: the transaction may have committed just before), and the next batch starts a
 * new thread.
 */
export class JournalWriterThread {
  readonly #config: WriterThreadConfig
  /** The running thread and its batches posted and not answered yet, oldest first (it answers in order). */
  #current: RunningThread | undefined
  #closed = false
  /**
   * Called once per transaction of the thread, before its batches settle: how many requests it carried,
   * whether it committed, and how many events it stored up to which ordering. A thread that died with batches
   * in flight counts as one failed transaction.
   */
  onTransaction:
    | ((transaction: {
        requests: number
        committed: boolean
        stored: number
        lastOrdering: number
        committedAt: number
      }) => void)
    | undefined

  constructor(config: WriterThreadConfig) {
    this.#config = config
  }

  /**
   * Hands one batch (the format of `encoded-batch.js`) to the thread; resolves with its results (same
   * format) once the transaction it went into committed.
   */
  append(batch: EncodedBatch, events: number, now: number, writerId: string): Promise<number[]> {
    return new Promise<number[]>((resolve, reject) => {
      if (this.#closed) throw new JournalError('The journal writer thread is closed.')
      let current: RunningThread
      try {
        current = this.#start()
      } catch (error) {
        this.#failed(batch.requests) // no thread, no transaction: the batch fails as one would
        throw error
      }
      // The layout's buffer moves to the thread instead of being copied; nothing here reads it again.
      current.worker.postMessage({ batch, events, now, writerId }, [batch.layout.buffer as ArrayBuffer])
      current.pending.push({ resolve, reject, requests: batch.requests })
      current.worker.ref()
    })
  }

  /**
   * Lets the thread close its connection and waits for it to end; later batches are refused. Call it only
   * with no batch in flight.
   */
  async close(): Promise<void> {
    this.#closed = true
    const current = this.#current
    if (!current) return
    this.#current = undefined
    const exited = new Promise<void>((resolve) => current.worker.once('exit', () => resolve()))
    current.worker.ref() // an unreferenced worker's exit would not keep the process waiting for it
    current.worker.postMessage('close')
    await exited
  }

  #start(): RunningThread {
    if (this.#current) return this.#current
    const { file, pragmas, sql, maxBatchEvents } = this.#config
    const worker = new Worker(
      this.#config.workerUrl ?? new URL('./journal-writer.worker.js', import.meta.url),
      {
        workerData: { file, pragmas, sql, maxBatchEvents },
        // The thread runs plain JavaScript: no loader flags of the application (tsx, test runners) needed.
        execArgv: [],
      },
    )
    worker.unref()
    // Each thread has its own list: the handlers of a thread that died never touch its successor's batches.
    const current: RunningThread = { worker, pending: [] }
    worker.on('message', (reply: Reply) => {
      if (this.#current !== current) return // a reply that raced the thread's death; its batches failed already
      const settled = current.pending.splice(0, 'results' in reply ? reply.results.length : reply.count)
      if (current.pending.length === 0) worker.unref()
      if ('results' in reply) {
        let stored = 0
        let lastOrdering = 0
        for (const results of reply.results) {
          const batch = storedIn(results)
          stored += batch.stored
          lastOrdering = Math.max(lastOrdering, batch.lastOrdering)
        }
        this.onTransaction?.({
          requests: reply.requests,
          committed: true,
          stored,
          lastOrdering,
          committedAt: reply.committedAt,
        })
        for (let i = 0; i < settled.length; i++) settled[i]!.resolve(reply.results[i]!)
      } else {
        this.#failed(reply.requests)
        const error = Object.assign(new Error(reply.error.message), { code: reply.error.code })
        for (const pending of settled) pending.reject(error)
      }
    })
    const lost = (why: string) => {
      if (this.#current !== current) return
      this.#current = undefined
      const inFlight = current.pending.splice(0)
      if (inFlight.length === 0) return
      this.#failed(inFlight.reduce((sum, pending) => sum + pending.requests, 0))
      const error = new JournalOutcomeUnknownError(`the journal writer thread stopped (${why})`)
      for (const pending of inFlight) pending.reject(error)
    }
    worker.on('error', (error) => lost(error.message))
    worker.on('exit', (code) => lost(`exit code ${code}`))
    this.#current = current
    return current
  }

  #failed(requests: number): void {
    this.onTransaction?.({ requests, committed: false, stored: 0, lastOrdering: 0, committedAt: 0 })
  }
}

/** A started thread and its batches posted and not answered yet, oldest first. */
interface RunningThread {
  readonly worker: Worker
  readonly pending: PendingBatch[]
}

/** A batch posted to the thread and not answered yet. */
interface PendingBatch {
  readonly resolve: (results: number[]) => void
  readonly reject: (error: Error) => void
  readonly requests: number
}
