// Hot path: measured by packages/sqlite/bench/journal-bench.ts (pnpm bench). Measure before and after changing this file.
import { ConcurrencyError, type EventEnvelope, JournalError } from '@statesource/core'
import type { EncodedEvent, PendingAppend } from '@statesource/core/internal'
import {
  type AppendContext,
  acceptedRows,
  decideAppend,
  eventRowParams,
  resultsOf,
} from './append-transaction.js'
import { conflictHead } from './encoded-batch.js'
import {
  INSERT_COLUMN_COUNT,
  insertEventsReturning,
  insertStreams,
  insertTags,
  MAX_VARIABLES,
  SQL,
} from './journal-sql.ts'
import { all, get, run, type SqlProgram } from './sql-driver.ts'

/** The envelope of a stored event. */
export function envelopeOf(
  request: PendingAppend,
  event: EncodedEvent,
  seqNr: number,
  ordering: number,
  context: AppendContext,
): EventEnvelope {
  return {
    ordering,
    persistenceId: request.persistenceId,
    seqNr,
    type: event.type,
    version: event.version,
    payload: event.payload,
    tags: event.tags,
    metadata: event.metadata,
    timestamp: context.now,
    writerId: context.writerId,
  }
}

/**
 * Sets each request's outcome from the results of its transaction (the format of `encoded-batch.js`, which
 * every append path returns).
 */
export function applyResults(
  requests: readonly PendingAppend[],
  results: readonly number[],
  context: AppendContext,
): void {
  let at = 0
  for (const request of requests) {
    const head = conflictHead(results[at++]!)
    if (head !== undefined) {
      request.outcome = {
        ok: false,
        error: new ConcurrencyError(request.persistenceId, request.expectedSeqNr, head),
      }
      continue
    }
    const envelopes: EventEnvelope[] = []
    let seqNr = request.expectedSeqNr
    for (const event of request.events) {
      envelopes.push(envelopeOf(request, event, ++seqNr, results[at++]!, context))
    }
    request.outcome = { ok: true, envelopes }
  }
}

/** The highest sequence number ever written to a stream (deleted events included), as a program. */
export function* currentSeqNr(persistenceId: string): SqlProgram<number> {
  const row = yield* get<{ seq_nr: number }>(SQL.currentSeqNr, [persistenceId, persistenceId])
  return row?.seq_nr ?? 0
}

/**
 * The append transaction as a program, for the Kysely path: the decision of `append-transaction.js`, run with
 * statements that suit a driver where every statement costs a Kysely round trip. The heads of the batch's
 * streams are read first, then the events of all accepted requests go in chunked multi-row inserts (each chunk
 * below SQLite's bound-variable limit), matched back to their rows by `(seq_nr, persistence_id)`. Returns the
 * results in the format of `encoded-batch.js`, like the better-sqlite3 body.
 */
export function* appendProgram(
  requests: readonly PendingAppend[],
  context: AppendContext,
): SqlProgram<number[]> {
  const heads = new Map<string, number>()
  for (const request of requests) {
    if (!heads.has(request.persistenceId)) {
      heads.set(request.persistenceId, yield* currentSeqNr(request.persistenceId))
    }
  }
  const statuses = decideAppend(requests, heads, (persistenceId) => {
    throw new JournalError(`The head of "${persistenceId}" was not read before deciding its append.`)
  })
  const rows = acceptedRows(requests, statuses)

  const returned = new Map<string, number>()
  const perInsert = Math.floor(MAX_VARIABLES / INSERT_COLUMN_COUNT)
  for (let start = 0; start < rows.length; start += perInsert) {
    const chunk = rows.slice(start, start + perInsert)
    const params = chunk.flatMap(({ persistenceId, seqNr, event }) =>
      eventRowParams(persistenceId, seqNr, event, context),
    )
    const inserted = yield* all<{ ordering: number; persistence_id: string; seq_nr: number }>(
      insertEventsReturning(chunk.length),
      params,
    )
    for (const r of inserted) returned.set(`${r.seq_nr}:${r.persistence_id}`, r.ordering)
  }

  const orderings: number[] = []
  const tagRows: unknown[][] = []
  const streamRows: unknown[][] = []
  for (const { persistenceId, seqNr, event } of rows) {
    const ordering = returned.get(`${seqNr}:${persistenceId}`)
    if (ordering === undefined) {
      throw new JournalError(`The insert of event ${seqNr} of "${persistenceId}" returned no ordering.`)
    }
    orderings.push(ordering)
    for (const tag of event.uniqueTags) tagRows.push([tag, ordering, persistenceId, seqNr])
    if (seqNr === 1) streamRows.push([persistenceId, ordering])
  }
  yield* insertChunked(tagRows, 4, insertTags)
  yield* insertChunked(streamRows, 2, insertStreams)
  return resultsOf(requests, statuses, orderings)
}

function* insertChunked(rows: unknown[][], columns: number, sqlFor: (n: number) => string): SqlProgram<void> {
  const perInsert = Math.floor(MAX_VARIABLES / columns)
  for (let start = 0; start < rows.length; start += perInsert) {
    const chunk = rows.slice(start, start + perInsert)
    yield* run(sqlFor(chunk.length), chunk.flat())
  }
}

/**
 * Deletes a stream's events up to `toSeqNr` (clamped to its highest sequence number) and records the
 * marker, so the highest sequence number never goes down.
 */
export function* deleteProgram(persistenceId: string, toSeqNr: number): SqlProgram<void> {
  const stream = yield* get<{ deleted_to: number }>(SQL.streamDeletedTo, [persistenceId])
  if (!stream) return
  const to = Math.min(toSeqNr, yield* currentSeqNr(persistenceId))
  if (to <= stream.deleted_to) return
  yield* run(SQL.setDeletedTo, [to, persistenceId])
  const doomed = yield* all<{ ordering: number; tags: string }>(SQL.toDelete, [persistenceId, to])
  for (const row of doomed) {
    for (const tag of new Set(JSON.parse(row.tags) as string[]))
      yield* run(SQL.deleteTag, [tag, row.ordering])
  }
  yield* run(SQL.deleteEvents, [persistenceId, to])
}
