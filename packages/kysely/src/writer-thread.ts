import { JournalError } from '@statesource/core'
import { Worker } from 'node:worker_threads'
import type { AppendSql } from './append-transaction.js'

/** What the writer thread needs to open its own connection to the database file. */
export interface WriterThreadConfig {
  /** The database file, absolute; it exists and is migrated before the thread opens it. */
  readonly file: string
  /** Pragmas for the thread's connection (`synchronous` and `busy_timeout` are per connection). */
  readonly pragmas: readonly string[]
  readonly sql: AppendSql
}

type Reply = { results: number[] } | { error: { message: string; code: string | undefined } }

/**
 * The main-thread side of the journal's writer thread: posts one group-commit batch at a time to a worker
 * thread that owns a second connection to the file, and resolves with that transaction's results.
 *
 * @remarks
 * The worker starts on the first batch and is unreferenced while idle, so an application that never closes
 * its database can still exit; while a batch is in flight it keeps the process alive until the commit is
 * reported. If the thread dies with a batch in flight, that batch fails with a `JournalError` saying its
 * outcome is unknown (the transaction may have committed just before), and the next batch starts a new thread.
 */
export class JournalWriterThread {
  readonly #config: WriterThreadConfig
  #worker: Worker | undefined
  /** Batches posted and not answered yet, oldest first: the thread answers in order. */
  readonly #pending: { resolve: (results: number[]) => void; reject: (error: Error) => void }[] = []

  constructor(config: WriterThreadConfig) {
    this.#config = config
  }

  /** Runs one batch (the layout of `createAppendTransaction`) in its own transaction on the thread. */
  append(batch: unknown[], requests: number, now: number, writerId: string): Promise<number[]> {
    const worker = this.#start()
    return new Promise<number[]>((resolve, reject) => {
      worker.postMessage({ batch, requests, now, writerId })
      this.#pending.push({ resolve, reject })
      worker.ref()
    })
  }

  /** Lets the thread close its connection and waits for it to end. Call it only with no batch in flight. */
  async close(): Promise<void> {
    const worker = this.#worker
    if (!worker) return
    this.#worker = undefined
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.ref() // an unreferenced worker's exit would not keep the process waiting for it
    worker.postMessage('close')
    await exited
  }

  #start(): Worker {
    if (this.#worker) return this.#worker
    const worker = new Worker(new URL('./journal-writer.worker.js', import.meta.url), {
      workerData: this.#config,
      // The thread runs plain JavaScript: no loader flags of the application (tsx, test runners) needed.
      execArgv: [],
    })
    worker.unref()
    worker.on('message', (reply: Reply) => {
      const pending = this.#pending.shift()
      if (this.#pending.length === 0) worker.unref()
      if (!pending) return
      if ('results' in reply) pending.resolve(reply.results)
      else pending.reject(Object.assign(new Error(reply.error.message), { code: reply.error.code }))
    })
    const lost = (why: string) => {
      if (this.#worker === worker) this.#worker = undefined
      for (const pending of this.#pending.splice(0)) {
        pending.reject(
          new JournalError(
            `The journal writer thread stopped (${why}) while a batch was in flight: its events may or may not have been committed. Read the streams back (or retry with the same commandId) before relying on them.`,
          ),
        )
      }
    }
    worker.on('error', (error) => lost(error.message))
    worker.on('exit', (code) => lost(`exit code ${code}`))
    this.#worker = worker
    return worker
  }
}
