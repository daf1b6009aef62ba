import {
  type EventEnvelope,
  type EventMetadata,
  isStatesourceError,
  JournalError,
  JournalOutcomeUnknownError,
} from '@statesource/core'
import { CompiledQuery, type Kysely } from 'kysely'
import { fromDbText } from './pg-text.ts'
import { APPEND_FUNCTION, qualified, TABLES } from './postgres-schema.ts'

/** Runs one SQL statement with bound parameters and returns its rows. */
export type Query = <R>(text: string, params: readonly unknown[]) => Promise<R[]>

/** A {@link Query} through a Kysely instance (or a Kysely transaction). */
export function kyselyQuery(kysely: Kysely<any>): Query {
  return async <R>(text: string, params: readonly unknown[]) => {
    const result = await kysely.executeQuery<R>(CompiledQuery.raw(text, [...params]))
    return result.rows as R[]
  }
}

const COLUMNS =
  'ordering, persistence_id, seq_nr, event_type, event_version, payload, metadata, tags, written_at, writer_id'

/** Every statement the journal runs, for one schema. No statement is ever built from data. */
export function journalSql(schema: string) {
  const J = qualified(schema, TABLES.journal)
  const T = qualified(schema, TABLES.eventTag)
  const S = qualified(schema, TABLES.stream)
  const H = qualified(schema, TABLES.head)
  const jColumns = COLUMNS.split(', ')
    .map((c) => `j.${c}`)
    .join(', ')
  return {
    append: `SELECT accepted, current_seq, base FROM ${qualified(schema, APPEND_FUNCTION)}(${Array.from(
      { length: 16 },
      (_, i) => `$${i + 1}`,
    ).join(', ')})`,
    currentSeqNr: `SELECT seq_nr FROM ${S} WHERE persistence_id = $1`,
    byPersistenceId: `SELECT ${COLUMNS} FROM ${J} WHERE persistence_id = $1 AND seq_nr >= $2 AND seq_nr <= $3 ORDER BY seq_nr LIMIT $4`,
    byPersistenceIdUnlimited: `SELECT ${COLUMNS} FROM ${J} WHERE persistence_id = $1 AND seq_nr >= $2 AND seq_nr <= $3 ORDER BY seq_nr`,
    // One statement, so the events and the highest sequence number come from one snapshot.
    recovery: `SELECT s.seq_nr AS highest, ${jColumns} FROM ${S} s LEFT JOIN ${J} j
      ON j.persistence_id = s.persistence_id AND j.seq_nr >= $2
      WHERE s.persistence_id = $1 ORDER BY j.seq_nr`,
    byTag: `SELECT ${jColumns} FROM ${T} t JOIN ${J} j ON j.ordering = t.ordering WHERE t.tag = $1 AND t.ordering > $2 ORDER BY t.ordering LIMIT $3`,
    all: `SELECT ${COLUMNS} FROM ${J} WHERE ordering > $1 ORDER BY ordering LIMIT $2`,
    persistenceIds: `SELECT persistence_id, position FROM ${S} WHERE position > $1 ORDER BY position LIMIT $2`,
    highestOrdering: `SELECT ordering FROM ${H} WHERE id = 1`,
    // Locks the stream row (so no append of it runs meanwhile), clamps to its highest sequence number,
    // moves the marker, and deletes the events and their tag rows, in one statement.
    deleteTo: `WITH s AS (
        SELECT persistence_id, least($2::bigint, seq_nr) AS upto, deleted_to FROM ${S}
        WHERE persistence_id = $1 FOR UPDATE),
      u AS (
        UPDATE ${S} st SET deleted_to = s.upto FROM s
        WHERE st.persistence_id = s.persistence_id AND s.upto > s.deleted_to RETURNING s.upto),
      d AS (
        DELETE FROM ${J} j USING u WHERE j.persistence_id = $1 AND j.seq_nr <= u.upto
        RETURNING j.ordering, j.tags)
      DELETE FROM ${T} t USING (SELECT json_array_elements_text(d.tags) AS tag, d.ordering FROM d) x
      WHERE t.tag = x.tag AND t.ordering = x.ordering`,
  }
}

export type JournalSql = ReturnType<typeof journalSql>

/** A row of `statesource_journal` as `pg` returns it (`bigint` as strings, `json` parsed). */
export interface JournalRow {
  ordering: string | number
  persistence_id: string
  seq_nr: string | number
  event_type: string
  event_version: number
  payload: unknown
  metadata: unknown
  tags: string[]
  written_at: string | number
  writer_id: string
}

/** Decodes a stored row. */
export function toEnvelope(row: JournalRow): EventEnvelope {
  return {
    ordering: Number(row.ordering),
    persistenceId: fromDbText(row.persistence_id),
    seqNr: Number(row.seq_nr),
    type: fromDbText(row.event_type),
    version: row.event_version,
    payload: row.payload,
    tags: row.tags.map(fromDbText),
    metadata: row.metadata as EventMetadata,
    timestamp: Number(row.written_at),
    writerId: fromDbText(row.writer_id),
  }
}

/** Wraps a database failure in a {@link JournalError} that says what was being done; statesource errors pass. */
export function journalFailure(error: unknown, what: string, hint = 'Check the database and retry.'): Error {
  if (isStatesourceError(error)) return error
  return new JournalError(`${what} failed: ${messageOf(error)}. ${hint}`, { cause: error })
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * SQLSTATE classes after which the server certainly rolled the statement back: the request was refused
 * before or while running, never at commit.
 */
const DEFINITE_FAILURE = /^(22|23|25|40|42|53|54|55|57014|0A|XX)/

/**
 * Whether a failed append may nevertheless have committed: the connection broke (no SQLSTATE: reset,
 * timeout, "Connection terminated") or the server was shutting the session down (class 57 other than a
 * cancel), so the outcome is unknown. Everything else is a definite failure.
 */
export function isOutcomeUnknown(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true
  return !DEFINITE_FAILURE.test(code)
}

/**
 * The error every call of a failed batch rejects with. The one place that decides between a definite
 * failure and an unknown outcome.
 */
export function appendFailure(error: unknown): Error {
  if (isStatesourceError(error)) return error
  if (isOutcomeUnknown(error)) {
    return new JournalOutcomeUnknownError(`the connection to PostgreSQL broke (${messageOf(error)})`, {
      cause: error,
    })
  }
  return journalFailure(error, 'Appending to the journal', 'Nothing from this append was written; retry it.')
}
