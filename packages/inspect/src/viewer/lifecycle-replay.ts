import type { AnyAggregate, EventCodecRegistry, EventEnvelope } from '@statesource/core'
import { runtimeOf } from '@statesource/core/internal'
import type { AnyMachineSnapshot } from 'xstate'
import { step } from '../checks/journal-audit.ts'
import { buildMermaid, type MermaidEdge } from '../export/chart-export.ts'
import { activeStateIds, mermaidIdsOf, type StateNodeLike } from '../export/state-nodes.ts'

import type { JournalSource } from '../journal/journal-source.ts'

/** The aggregate's state after one step of its journal, as the viewer shows it. */
export interface LifecycleState {
  /** XState's state value: `"draft"` or `{ checkout: { payment: "awaiting", shipping: "packing" } }`. */
  readonly value: unknown
  /** Ids of every active state node, ancestors and parallel regions included (`order.checkout.payment`). */
  readonly activeStates: readonly string[]
  readonly context: unknown
  readonly status: string
}

/** One step of an aggregate's journal: the stored event and the state it led to. */
export interface LifecycleStep {
  readonly seqNr: number
  readonly ordering: number
  readonly type: string
  readonly version: number
  readonly timestamp: number
  readonly payload: unknown
  readonly metadata: unknown
  readonly tags: readonly string[]
  /**
   * The state after the event; `undefined` without an aggregate to replay through. After a refused event
   * it stays the state the refused event met.
   */
  readonly state: LifecycleState | undefined
  /**
   * `accepted`: the chart took the event; `refused`: it did not (`problem` says why); `not-checked`: an
   * earlier event of the stream was refused, so the state this one met is unknown and it was not replayed;
   * `not-replayed`: no aggregate was given for its type.
   */
  readonly check: 'accepted' | 'refused' | 'not-checked' | 'not-replayed'
  /** Why the chart could not take this event (the state then stays as it was). */
  readonly problem?: string
  /** For `not-checked`: the sequence number of the refused event. */
  readonly refusedAt?: number
  /** The transitions the event took, as indices into the chart's `edges` (the arrows of the Mermaid chart). */
  readonly transitions?: readonly number[]
}

interface Checkpoint {
  readonly seqNr: number
  readonly state: AnyMachineSnapshot
  /** The refused event's sequence number, once one was refused. */
  readonly refusedAt: number | undefined
}

/**
 * Replays one aggregate's journal page by page, keeping the state at every page boundary so that any page
 * of a long history costs one page of replay after the first visit.
 */
export class LifecycleReplay {
  readonly #checkpoints: Checkpoint[]
  readonly #edges: readonly MermaidEdge[]

  constructor(
    readonly persistenceId: string,
    readonly aggregate: AnyAggregate | undefined,
    readonly codecs: EventCodecRegistry | undefined,
    readonly source: JournalSource,
    readonly pageSize: number,
  ) {
    this.#checkpoints = aggregate
      ? [{ seqNr: 0, state: runtimeOf(aggregate).initial(), refusedAt: undefined }]
      : []
    this.#edges = aggregate ? buildMermaid(aggregate.machine).edges : []
  }

  /** The state before any event. */
  initial(): LifecycleState | undefined {
    const first = this.#checkpoints[0]
    return first && this.aggregate ? viewOf(this.aggregate, first.state) : undefined
  }

  /** Up to `limit` steps starting at sequence number `from`. */
  async steps(from: number, limit: number): Promise<LifecycleStep[]> {
    const to = from + limit - 1
    const aggregate = this.aggregate
    if (!aggregate) {
      const page = await this.source.readByPersistenceId(this.persistenceId, from, to, limit)
      return page.map((e) => ({ ...stepView(e, undefined), check: 'not-replayed' }))
    }
    let checkpoint = this.#checkpoints[0]!
    for (const c of this.#checkpoints) if (c.seqNr < from && c.seqNr > checkpoint.seqNr) checkpoint = c
    let state = checkpoint.state
    let refusedAt = checkpoint.refusedAt
    let next = checkpoint.seqNr + 1
    const out: LifecycleStep[] = []
    while (next <= to) {
      const page = await this.source.readByPersistenceId(this.persistenceId, next, to, this.pageSize)
      for (const envelope of page) {
        let view: LifecycleStep
        if (refusedAt !== undefined) {
          view = { ...stepView(envelope, viewOf(aggregate, state)), check: 'not-checked', refusedAt }
        } else {
          const before = state
          const outcome = step(aggregate, this.codecs, state, envelope)
          if ('problem' in outcome) {
            refusedAt = envelope.seqNr
            view = {
              ...stepView(envelope, viewOf(aggregate, state)),
              check: 'refused',
              problem: outcome.message,
            }
          } else {
            state = outcome.state
            view = {
              ...stepView(envelope, viewOf(aggregate, state)),
              check: 'accepted',
              transitions: this.#taken(before, outcome.event),
            }
          }
        }
        if (envelope.seqNr % this.pageSize === 0) this.#remember(envelope.seqNr, state, refusedAt)
        if (envelope.seqNr >= from) out.push(view)
      }
      const last = page.at(-1)
      if (!last || page.length < this.pageSize) break
      next = last.seqNr + 1
    }
    return out
  }

  /** The chart arrows of the transitions `event` takes from `state`. */
  #taken(state: AnyMachineSnapshot, event: { type: string }): number[] {
    const aggregate = this.aggregate!
    let transitions: readonly {
      source: { id: string }
      target?: readonly StateNodeLike[] | undefined
      eventType: string
    }[]
    try {
      transitions = aggregate.machine.getTransitionData(state as never, event as never) as never
    } catch {
      return []
    }
    const out: number[] = []
    for (const t of transitions) {
      const targets = t.target && t.target.length > 0 ? t.target : [t.source as StateNodeLike]
      for (const target of targets) {
        const drawn = target.type === 'history' && target.parent ? target.parent : target
        const index = this.#edges.findIndex(
          (e) => e.from === t.source.id && e.to === drawn.id && e.eventType === t.eventType,
        )
        if (index >= 0 && !out.includes(index)) out.push(index)
      }
    }
    return out
  }

  #remember(seqNr: number, state: AnyMachineSnapshot, refusedAt: number | undefined): void {
    if (this.#checkpoints.some((c) => c.seqNr === seqNr)) return
    this.#checkpoints.push({ seqNr, state, refusedAt })
  }
}

function stepView(envelope: EventEnvelope, state: LifecycleState | undefined): Omit<LifecycleStep, 'check'> {
  return {
    seqNr: envelope.seqNr,
    ordering: envelope.ordering,
    type: envelope.type,
    version: envelope.version,
    timestamp: envelope.timestamp,
    payload: envelope.payload,
    metadata: envelope.metadata,
    tags: envelope.tags,
    state,
  }
}

/** @internal */
export function viewOf(aggregate: AnyAggregate, snapshot: AnyMachineSnapshot): LifecycleState {
  return {
    value: snapshot.value,
    activeStates: activeStateIds(aggregate.machine.root as unknown as StateNodeLike, snapshot.value),
    context: snapshot.context,
    status: snapshot.status,
  }
}

/** @internal The chart the page draws, with the Mermaid id of each state node and its arrows in order. */
export function chartFor(aggregate: AnyAggregate): {
  mermaid: string
  stateIds: Record<string, string>
  edges: MermaidEdge[]
} {
  const { text, edges } = buildMermaid(aggregate.machine)
  return {
    mermaid: text,
    stateIds: Object.fromEntries(mermaidIdsOf(aggregate.machine.root as unknown as StateNodeLike)),
    edges,
  }
}
