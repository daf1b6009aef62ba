import type { Observable } from 'rxjs'
import type { EventEnvelope } from './envelope.ts'

/**
 * Queries over the journal as RxJS Observables.
 *
 * The live variants keep tailing: they emit what is stored, then every new event, until unsubscribed.
 * The `current*` variants complete once they reach the head as it was when they reached it.
 * Offsets are global orderings: a query "after 42" returns events with `ordering > 42`.
 */
export interface ReadJournal {
  eventsByPersistenceId(
    persistenceId: string,
    fromSeqNr?: number,
    toSeqNr?: number,
  ): Observable<EventEnvelope>
  currentEventsByPersistenceId(
    persistenceId: string,
    fromSeqNr?: number,
    toSeqNr?: number,
  ): Observable<EventEnvelope>
  eventsByTag(tag: string, afterOrdering?: number): Observable<EventEnvelope>
  currentEventsByTag(tag: string, afterOrdering?: number): Observable<EventEnvelope>
  allEvents(afterOrdering?: number): Observable<EventEnvelope>
  currentAllEvents(afterOrdering?: number): Observable<EventEnvelope>
  /** Every persistence id, each once, in the order the streams were created; live keeps tailing. */
  persistenceIds(): Observable<string>
  currentPersistenceIds(): Observable<string>
  /** The highest global ordering stored (0 when empty): used to report reader lag. */
  highestOrdering(): Promise<number>
}
