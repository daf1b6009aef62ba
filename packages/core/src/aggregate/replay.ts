// Hot path: measured by packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
import type { AnyMachineSnapshot } from 'xstate'
import type { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import { RecoveryError } from '../errors.ts'
import type { EventEnvelope } from '../persistence/envelope.ts'
import type { AnyAggregate } from './define-aggregate.ts'
import { describeState } from './validate-events.ts'

/** Decodes a stored envelope into the aggregate's current domain event. */
export function decodeForAggregate(
  aggregate: AnyAggregate,
  codecs: EventCodecRegistry | undefined,
  envelope: EventEnvelope,
): { type: string } {
  if (codecs) return codecs.decode(envelope)
  if (envelope.version !== aggregate.eventVersion(envelope.type)) {
    return codecsMissing(envelope)
  }
  return { ...(envelope.payload as object), type: envelope.type }
}

function codecsMissing(envelope: EventEnvelope): never {
  throw new RecoveryError(
    envelope.persistenceId,
    `Event ${envelope.seqNr} of "${envelope.persistenceId}" is "${envelope.type}" version ${envelope.version}, but no EventCodecRegistry with an upcaster for it is configured.`,
  )
}

/**
 * The strict replay fold: decodes each stored event and steps the machine without effects. A stored event
 * the chart does not accept fails loudly with the persistence id and sequence number: a chart change broke
 * history, and serving the aggregate would be wrong.
 */
export function foldEvents(
  aggregate: AnyAggregate,
  codecs: EventCodecRegistry | undefined,
  start: AnyMachineSnapshot,
  envelopes: readonly EventEnvelope[],
): AnyMachineSnapshot {
  let state = start
  for (const envelope of envelopes) {
    let event: { type: string }
    try {
      event = decodeForAggregate(aggregate, codecs, envelope)
    } catch (error) {
      if (error instanceof RecoveryError) throw error
      throw new RecoveryError(
        envelope.persistenceId,
        `Cannot decode event ${envelope.seqNr} ("${envelope.type}@${envelope.version}") of "${envelope.persistenceId}": ${(error as Error).message}`,
        { cause: error },
      )
    }
    let accepted: boolean
    try {
      accepted = aggregate.runtime.can(state, event)
    } catch (error) {
      throw new RecoveryError(
        envelope.persistenceId,
        `Replaying event ${envelope.seqNr} ("${event.type}") of "${envelope.persistenceId}" threw in a guard: ${(error as Error).message}`,
        { cause: error },
      )
    }
    if (!accepted) {
      throw new RecoveryError(
        envelope.persistenceId,
        `Stored event ${envelope.seqNr} ("${event.type}") of "${envelope.persistenceId}" is not accepted by the chart of aggregate "${aggregate.type}" in state ${describeState(state)}. The chart changed incompatibly with its history: fix the chart or add an upcaster, then retry.`,
      )
    }
    state = aggregate.runtime.step(state, event)
  }
  return state
}
