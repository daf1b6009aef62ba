import {
  type AnyAggregate,
  type EventCodecRegistry,
  type EventEnvelope,
  type SnapshotStore,
  StatesourceError,
} from '@statesource/core'
import { decodeForAggregate, describeState, type MachineRuntime, runtimeOf } from '@statesource/core/internal'
import type { AnyMachineSnapshot } from 'xstate'
import { describeGuard } from '../export/chart-export.ts'
import { activeStateNodes, type StateNodeLike, statePath } from '../export/state-nodes.ts'
import { type JournalSource, listPersistenceIds, splitPersistenceId } from '../journal/journal-source.ts'

/** One stored event the current charts cannot replay. */
export interface JournalAuditFinding {
  readonly persistenceId: string
  readonly seqNr: number
  readonly ordering: number
  /** The stored event type. */
  readonly eventType: string
  /**
   * `not-accepted`: no transition of the state it meets takes the event; `guard-refused`: transitions
   * take it, but their guards (named in `guards`) returned false; `decode-failed`: no codec or upcaster
   * turns the stored payload into an event; `guard-threw`: a guard threw while checking it.
   */
  readonly problem: 'not-accepted' | 'guard-refused' | 'decode-failed' | 'guard-threw'
  /** The active state(s) the event met, as JSON (`"draft"`, `{"checkout":{...}}`). */
  readonly state: string
  /** The same as dotted paths of the active leaves: `checkout.payment.failed, checkout.shipping.packing`. */
  readonly statePath: string
  /** For `guard-refused`: each guard that returned false, with the state that declares it. */
  readonly guards?: readonly { readonly guard: string; readonly state: string }[]
  readonly message: string
  /** Events after this one in the stream, which were not checked (their state would be wrong). */
  readonly uncheckedAfter: number
}

/** Findings with the same cause: aggregate type, event type, state, problem and guards. */
export interface JournalAuditGroup {
  readonly aggregateType: string
  readonly eventType: string
  readonly problem: JournalAuditFinding['problem']
  readonly statePath: string
  readonly guards: readonly string[]
  /** How many streams have this finding. */
  readonly count: number
  /** `persistenceId#seqNr` of the first five. */
  readonly examples: readonly string[]
  /** The cause in one sentence, without ids. */
  readonly message: string
}

/** A stored snapshot that recovery cannot use as it stands. */
export interface SnapshotFinding {
  readonly persistenceId: string
  readonly seqNr: number
  /**
   * `unrestorable`: the current chart cannot rebuild its state (recovery logs it and replays the journal);
   * `disagrees`: it restores, but to another state or context than replaying the journal to the same event
   * gives (recovery would trust it and serve the wrong state); `ahead-of-journal`: it is past the end of
   * the journal (recovery fails).
   */
  readonly problem: 'unrestorable' | 'disagrees' | 'ahead-of-journal'
  readonly message: string
}

/** What the snapshot check found. */
export interface SnapshotAuditResult {
  /** Snapshots loaded (at most one per stream: the newest). */
  readonly checked: number
  /** Snapshots of another machine version or format: recovery ignores them and replays, so they are harmless. */
  readonly stale: number
  readonly findings: readonly SnapshotFinding[]
}

/** What {@link auditJournal} read and found. */
export interface JournalAuditResult {
  readonly streams: number
  readonly events: number
  /** Streams whose aggregate type none of the given aggregates has (not replayed). */
  readonly unknownStreams: readonly string[]
  readonly findings: readonly JournalAuditFinding[]
  /** The findings grouped by cause, largest group first. */
  readonly groups: readonly JournalAuditGroup[]
  /** With a `snapshotStore`: the snapshot check. */
  readonly snapshots?: SnapshotAuditResult
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
  /** Also check each stream's newest snapshot against the current chart and the journal. Default: no check. */
  readonly snapshotStore?: Pick<SnapshotStore, 'load'>
}

// The gateway's snapshot body (core's gateway/entity-snapshots.ts writes it).
const SNAPSHOT_FORMAT = 'statesource.snapshot.v1'

/**
 * Replays every stream of a journal through the current charts and reports each stream's first stored
 * event the chart would not accept, naming the guard that refused it: run it over a database to find
 * history a chart change broke. With a snapshot store, it also checks each stream's newest snapshot.
 *
 * @example
 * ```ts
 * const sqlite = await openSqlite('app.db')
 * const audit = await auditJournal(sqlite.journal, {
 *   aggregates: [account, order],
 *   snapshotStore: sqlite.snapshotStore,
 * })
 * for (const group of audit.groups) console.log(`${group.count} x ${group.message}`)
 * ```
 *
 * @remarks
 * Replay is effect-free (no custom action runs). A stream stops being checked at its first finding, since
 * the states after it are unknown; `uncheckedAfter` says how many events that left out. A snapshot is
 * compared with the replayed state at its sequence number (value and context), when the stream replays
 * that far.
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
  const snapshots = options.snapshotStore
    ? { checked: 0, stale: 0, findings: [] as SnapshotFinding[] }
    : undefined
  let events = 0
  for (const persistenceId of ids) {
    const aggregate = byType.get(splitPersistenceId(persistenceId).type)
    if (!aggregate) {
      unknownStreams.push(persistenceId)
      continue
    }
    const snapshot =
      options.snapshotStore && snapshots
        ? await loadSnapshot(options.snapshotStore, aggregate, persistenceId, snapshots)
        : undefined
    let state = runtimeOf(aggregate).initial()
    let failed: Omit<JournalAuditFinding, 'uncheckedAfter'> | undefined
    let unchecked = 0
    let from = 1
    let last = 0
    for (;;) {
      const page = await source.readByPersistenceId(persistenceId, from, Number.MAX_SAFE_INTEGER, pageSize)
      for (const envelope of page) {
        events++
        last = envelope.seqNr
        if (failed) {
          unchecked++
          continue
        }
        const outcome = step(aggregate, options.codecs, state, envelope)
        if ('problem' in outcome) failed = outcome
        else state = outcome.state
        if (snapshot && !failed && envelope.seqNr === snapshot.seqNr) {
          compareSnapshot(snapshot, state, persistenceId, snapshots!)
        }
      }
      const lastOfPage = page.at(-1)
      if (!lastOfPage || page.length < pageSize) break
      from = lastOfPage.seqNr + 1
    }
    if (snapshot && snapshot.seqNr > last) {
      snapshots!.findings.push({
        persistenceId,
        seqNr: snapshot.seqNr,
        problem: 'ahead-of-journal',
        message: `The snapshot of "${persistenceId}" is at event ${snapshot.seqNr} but its journal ends at ${last}: recovery fails. Delete the snapshot (or restore the matching journal).`,
      })
    }
    if (failed) findings.push({ ...failed, uncheckedAfter: unchecked })
  }
  return {
    streams: ids.length,
    events,
    unknownStreams,
    findings,
    groups: groupFindings(findings),
    ...(snapshots ? { snapshots } : {}),
    ok: findings.length === 0 && (snapshots?.findings.length ?? 0) === 0,
  }
}

interface LoadedSnapshot {
  readonly seqNr: number
  readonly state: AnyMachineSnapshot
}

async function loadSnapshot(
  store: Pick<SnapshotStore, 'load'>,
  aggregate: AnyAggregate,
  persistenceId: string,
  result: { checked: number; stale: number; findings: SnapshotFinding[] },
): Promise<LoadedSnapshot | undefined> {
  const stored = await store.load(persistenceId)
  if (!stored) return undefined
  result.checked++
  const body = stored.state as { format?: unknown; machine?: unknown } | undefined
  if (stored.machineVersion !== aggregate.version || body?.format !== SNAPSHOT_FORMAT) {
    result.stale++
    return undefined
  }
  try {
    const state = runtimeOf(aggregate).restore(body.machine)
    if (state.status === 'error') throw state.error
    // A state value naming states the chart no longer has restores without complaint: resolve it.
    aggregate.machine.resolveState({ value: state.value, context: state.context } as never)
    return { seqNr: stored.seqNr, state }
  } catch (error) {
    result.findings.push({
      persistenceId,
      seqNr: stored.seqNr,
      problem: 'unrestorable',
      message: `The snapshot of "${persistenceId}" at event ${stored.seqNr} cannot be restored by the current chart of "${aggregate.type}" (${(error as Error)?.message ?? error}); recovery replays the journal instead. Bump the aggregate's version so it is ignored, or delete it.`,
    })
    return undefined
  }
}

function compareSnapshot(
  snapshot: LoadedSnapshot,
  replayed: AnyMachineSnapshot,
  persistenceId: string,
  result: { findings: SnapshotFinding[] },
): void {
  const stored = JSON.stringify({ value: snapshot.state.value, context: snapshot.state.context })
  const fresh = JSON.stringify({ value: replayed.value, context: replayed.context })
  if (stored === fresh) return
  result.findings.push({
    persistenceId,
    seqNr: snapshot.seqNr,
    problem: 'disagrees',
    message: `The snapshot of "${persistenceId}" at event ${snapshot.seqNr} holds ${stored}, but replaying the journal through the current chart gives ${fresh}: recovery would serve the snapshot's state. Bump the aggregate's version (snapshots of other versions are ignored) or delete the snapshot.`,
  })
}

function groupFindings(findings: readonly JournalAuditFinding[]): JournalAuditGroup[] {
  const groups = new Map<string, { group: Omit<JournalAuditGroup, 'count' | 'examples'>; ids: string[] }>()
  for (const f of findings) {
    const aggregateType = splitPersistenceId(f.persistenceId).type
    const guards = (f.guards ?? []).map((g) => g.guard)
    const key = JSON.stringify([aggregateType, f.eventType, f.problem, f.statePath, guards])
    let entry = groups.get(key)
    if (!entry) {
      entry = {
        group: {
          aggregateType,
          eventType: f.eventType,
          problem: f.problem,
          statePath: f.statePath,
          guards,
          message: causeOf(f, aggregateType),
        },
        ids: [],
      }
      groups.set(key, entry)
    }
    entry.ids.push(`${f.persistenceId}#${f.seqNr}`)
  }
  return [...groups.values()]
    .map(({ group, ids }) => ({ ...group, count: ids.length, examples: ids.slice(0, 5) }))
    .sort((a, b) => b.count - a.count)
}

function causeOf(f: JournalAuditFinding, aggregateType: string): string {
  const what = `stored "${f.eventType}" in state ${f.statePath} of aggregate "${aggregateType}"`
  switch (f.problem) {
    case 'guard-refused':
      return `${what}: refused by ${(f.guards ?? []).map((g) => `guard "${g.guard}" (of state ${g.state})`).join(' and ')}`
    case 'not-accepted':
      return `${what}: no transition takes it`
    case 'guard-threw':
      return `${what}: a guard threw`
    case 'decode-failed':
      return `${what}: cannot be decoded`
  }
}

type StepOutcome =
  | { state: ReturnType<MachineRuntime['initial']>; event: { type: string } }
  | Omit<JournalAuditFinding, 'uncheckedAfter'>

/** @internal One effect-free replay step, with the reason when the chart cannot take the event. */
export function step(
  aggregate: AnyAggregate,
  codecs: EventCodecRegistry | undefined,
  state: ReturnType<MachineRuntime['initial']>,
  envelope: EventEnvelope,
): StepOutcome {
  const where = {
    persistenceId: envelope.persistenceId,
    seqNr: envelope.seqNr,
    ordering: envelope.ordering,
    eventType: envelope.type,
    state: describeState(state),
    statePath: statePathOf(state.value),
  }
  const at = `event ${envelope.seqNr} ("${envelope.type}") of "${envelope.persistenceId}"`
  let event: { type: string }
  try {
    event = decodeForAggregate(aggregate, codecs, envelope)
  } catch (error) {
    return { ...where, problem: 'decode-failed', message: `Cannot decode ${at}: ${(error as Error).message}` }
  }
  let accepted: boolean
  try {
    accepted = runtimeOf(aggregate).can(state, event)
  } catch (error) {
    return {
      ...where,
      problem: 'guard-threw',
      message: `A guard threw on ${at} in state ${where.statePath}: ${(error as Error).message}`,
    }
  }
  if (!accepted) {
    const fix = 'Fix the chart (or add an upcaster) so history replays.'
    const guards = refusingGuards(aggregate, state, event.type)
    if (guards.length > 0) {
      const named = guards.map((g) => `guard "${g.guard}" (of state ${g.state})`).join(' and ')
      return {
        ...where,
        problem: 'guard-refused',
        guards,
        message: `Stored ${at} is refused by ${named} in state ${where.statePath} of aggregate "${aggregate.type}": the guard returned false. ${fix}`,
      }
    }
    const ended = state.status === 'done' ? ' (the aggregate reached a final state)' : ''
    return {
      ...where,
      problem: 'not-accepted',
      message: `Stored ${at} is not accepted by the chart of aggregate "${aggregate.type}" in state ${where.statePath}${ended}: no transition takes it. ${fix}`,
    }
  }
  return { state: runtimeOf(aggregate).step(state, event), event }
}

/**
 * The guards of the transitions that would take `eventType` in the active states: when the chart refuses
 * an event that such transitions exist for, every one of them was guarded and returned false.
 */
function refusingGuards(
  aggregate: AnyAggregate,
  state: AnyMachineSnapshot,
  eventType: string,
): { guard: string; state: string }[] {
  if (state.status !== 'active') return []
  const root = aggregate.machine.root as unknown as StateNodeLike
  const out: { guard: string; state: string }[] = []
  const seen = new Set<string>()
  for (const node of activeStateNodes(root, state.value).reverse()) {
    for (const [descriptor, transitions] of node.transitions ?? []) {
      if (!matchesDescriptor(descriptor, eventType)) continue
      for (const t of transitions) {
        const guard = describeGuard(t.guard)
        const key = `${guard}@${node.id}`
        if (guard === '' || seen.has(key)) continue
        seen.add(key)
        out.push({ guard, state: statePath(node) || '(root)' })
      }
    }
  }
  return out
}

function matchesDescriptor(descriptor: string, eventType: string): boolean {
  if (descriptor === eventType || descriptor === '*') return true
  return descriptor.endsWith('.*') && eventType.startsWith(descriptor.slice(0, -1))
}

/** @internal `{ checkout: { payment: 'failed' } }` as `checkout.payment.failed`; parallel leaves comma separated. */
export function statePathOf(value: unknown): string {
  const paths: string[] = []
  const walk = (v: unknown, prefix: string) => {
    if (typeof v === 'string') paths.push(prefix + v)
    else if (v && typeof v === 'object') {
      const entries = Object.entries(v)
      if (entries.length === 0) paths.push(prefix.slice(0, -1))
      for (const [key, sub] of entries) walk(sub, `${prefix}${key}.`)
    }
  }
  walk(value, '')
  return paths.join(', ') || '(none)'
}
