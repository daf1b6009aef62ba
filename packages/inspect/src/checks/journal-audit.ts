import {
  type AnyAggregate,
  describeState,
  decodeForAggregate,
  type EventCodecRegistry,
  type EventEnvelope,
  StatesourceError,
} from '@statesource/core'
import { type JournalSource, listPersistenceIds, splitPersistenceId } from '../journal/journal-source.ts'

/** One stored event the current charts cannot replay. */
export interface JournalAuditFinding {
  readonly persistenceId: string
  readonly seqNr: number
  readonly ordering: number
  /** The stored event type. */
  readonly eventType: string
  /**
   * `not-accepted`: the chart refuses the event in the state it meets; `decode-failed`: no codec or
   * upcaster turns the stored payload into an event; `guard-threw`: a guard threw while checking it.
   */
  readonly problem: 'not-accepted' | 'decode-failed' | 'guard-threw'
  /** The active state(s) the event met, as JSON (`"draft"`, `{"checkout":{...}}`). */
  readonly state: string
  readonly message: string
  /** Events after this one in the stream, which were not checked (their state would be wrong). */
  readonly uncheckedAfter: number
}

/** What {@link auditJournal} read and found. */
export interface JournalAuditResult {
  readonly streams: number
  readonly events: number
  /** Streams whose aggregate type none of the given aggregates has (not replayed). */
  readonly unknownStreams: readonly string[]
  readonly findings: readonly JournalAuditFinding[]
  readonly ok: boolean
}

/** Options of {@link auditJournal}. */
export interface JournalAuditOptions {
  readonly aggregates: readonly AnyAggregate[]
  /** Decoders and upcasters, as given to the builder. Default: each event's payload as stored. */
  readonly codecs?: EventCodecRegistry
  /** Only these persistence ids. Default: every stream in the journal. */
  readonly persistenceIds?: readonly string[]
  /** Rows per read. Default 500. */
  readonly pageSize?: number
}

/**
 * Replays every stream of a journal through the current charts and reports each stream's first stored
 * event the chart would not accept: run it over a database to find history a chart change broke.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * const audit = await auditJournal(sqlite.journal, { aggregates: [account, order] })
 * for (const f of audit.findings) console.log(f.message)
 * ```
 *
 * @remarks
 * Replay is effect-free (no custom action runs). A stream stops being checked at its first finding, since
 * the states after it are unknown; `uncheckedAfter` says how many events that left out.
 */
export async function auditJournal(
  source: JournalSource,
  options: JournalAuditOptions,
): Promise<JournalAuditResult> {
  const pageSize = options.pageSize ?? 500
  if (!Number.isInteger(pageSize) || pageSize < 1) {
    throw new StatesourceError('INVALID_INPUT', `pageSize must be an integer of at least 1, got ${pageSize}.`)
  }
  const byType = new Map(options.aggregates.map((a) => [a.type, a]))
  const ids = options.persistenceIds
    ? [...options.persistenceIds]
    : await listPersistenceIds(source, pageSize)
  const findings: JournalAuditFinding[] = []
  const unknownStreams: string[] = []
  let events = 0
  for (const persistenceId of ids) {
    const aggregate = byType.get(splitPersistenceId(persistenceId).type)
    if (!aggregate) {
      unknownStreams.push(persistenceId)
      continue
    }
    let state = aggregate.runtime.initial()
    let failed: Omit<JournalAuditFinding, 'uncheckedAfter'> | undefined
    let unchecked = 0
    let from = 1
    for (;;) {
      const page = await source.readByPersistenceId(persistenceId, from, Number.MAX_SAFE_INTEGER, pageSize)
      for (const envelope of page) {
        events++
        if (failed) {
          unchecked++
          continue
        }
        const outcome = step(aggregate, options.codecs, state, envelope)
        if ('problem' in outcome) failed = outcome
        else state = outcome.state
      }
      const last = page.at(-1)
      if (!last || page.length < pageSize) break
      from = last.seqNr + 1
    }
    if (failed) findings.push({ ...failed, uncheckedAfter: unchecked })
  }
  return { streams: ids.length, events, unknownStreams, findings, ok: findings.length === 0 }
}

type StepOutcome =
  | { state: ReturnType<AnyAggregate['runtime']['initial']> }
  | Omit<JournalAuditFinding, 'uncheckedAfter'>

/** @internal One effect-free replay step, with the reason when the chart cannot take the event. */
export function step(
  aggregate: AnyAggregate,
  codecs: EventCodecRegistry | undefined,
  state: ReturnType<AnyAggregate['runtime']['initial']>,
  envelope: EventEnvelope,
): StepOutcome {
  const where = { persistenceId: envelope.persistenceId, seqNr: envelope.seqNr, ordering: envelope.ordering }
  const at = `event ${envelope.seqNr} ("${envelope.type}") of "${envelope.persistenceId}"`
  let event: { type: string }
  try {
    event = decodeForAggregate(aggregate, codecs, envelope)
  } catch (error) {
    return {
      ...where,
      eventType: envelope.type,
      problem: 'decode-failed',
      state: describeState(state),
      message: `Cannot decode ${at}: ${(error as Error).message}`,
    }
  }
  let accepted: boolean
  try {
    accepted = aggregate.runtime.can(state, event)
  } catch (error) {
    return {
      ...where,
      eventType: envelope.type,
      problem: 'guard-threw',
      state: describeState(state),
      message: `A guard threw on ${at} in state ${describeState(state)}: ${(error as Error).message}`,
    }
  }
  if (!accepted) {
    return {
      ...where,
      eventType: envelope.type,
      problem: 'not-accepted',
      state: describeState(state),
      message: `Stored ${at} is not accepted by the chart of aggregate "${aggregate.type}" in state ${describeState(state)}. Fix the chart (or add an upcaster) so history replays.`,
    }
  }
  return { state: aggregate.runtime.step(state, event) }
}
