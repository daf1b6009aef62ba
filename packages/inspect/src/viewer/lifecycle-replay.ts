import type { AnyAggregate, EventCodecRegistry, EventEnvelope } from '@statesource/core'
import type { AnyMachineSnapshot } from 'xstate'
import { step } from '../checks/journal-audit.ts'
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
  /** The state after the event; `undefined` without an aggregate to replay through. */
  readonly state: LifecycleState | undefined
  /** Why the chart could not take this event (the state then stays as it was). */
  readonly problem?: string
}

interface Checkpoint {
  readonly seqNr: number
  readonly state: AnyMachineSnapshot
  readonly broken: boolean
}

/**
 * Replays one aggregate's journal page by page, keeping the state at every page boundary so that any page
 * of a long history costs one page of replay after the first visit.
 */
export class LifecycleReplay {
  readonly #checkpoints: Checkpoint[]

  constructor(
    readonly persistenceId: string,
    readonly aggregate: AnyAggregate | undefined,
    readonly codecs: EventCodecRegistry | undefined,
    readonly source: JournalSource,
    readonly pageSize: number,
  ) {
    this.#checkpoints = aggregate ? [{ seqNr: 0, state: aggregate.runtime.initial(), broken: false }] : []
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
      return page.map((e) => stepView(e, undefined))
    }
    let checkpoint = this.#checkpoints[0]!
    for (const c of this.#checkpoints) if (c.seqNr < from && c.seqNr > checkpoint.seqNr) checkpoint = c
    let state = checkpoint.state
    let broken = checkpoint.broken
    let next = checkpoint.seqNr + 1
    const out: LifecycleStep[] = []
    while (next <= to) {
      const page = await this.source.readByPersistenceId(this.persistenceId, next, to, this.pageSize)
      for (const envelope of page) {
        const outcome = step(aggregate, this.codecs, state, envelope)
        let problem: string | undefined
        if ('problem' in outcome) {
          problem = outcome.message
          broken = true
        } else state = outcome.state
        if (envelope.seqNr % this.pageSize === 0) this.#remember(envelope.seqNr, state, broken)
        if (envelope.seqNr >= from) {
          const view = stepView(envelope, viewOf(aggregate, state))
          out.push(problem === undefined ? view : { ...view, problem })
        }
      }
      const last = page.at(-1)
      if (!last || page.length < this.pageSize) break
      next = last.seqNr + 1
    }
    return out
  }

  #remember(seqNr: number, state: AnyMachineSnapshot, broken: boolean): void {
    if (this.#checkpoints.some((c) => c.seqNr === seqNr)) return
    this.#checkpoints.push({ seqNr, state, broken })
  }
}

function stepView(envelope: EventEnvelope, state: LifecycleState | undefined): LifecycleStep {
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

/** @internal The chart the page draws, with the Mermaid id of each state node. */
export function chartFor(
  aggregate: AnyAggregate,
  mermaid: string,
): { mermaid: string; stateIds: Record<string, string> } {
  return {
    mermaid,
    stateIds: Object.fromEntries(mermaidIdsOf(aggregate.machine.root as unknown as StateNodeLike)),
  }
}
