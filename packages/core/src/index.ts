// Aggregates
export {
  defineAggregate,
  reject,
  isRejection,
  PERSISTENCE_ID_SEPARATOR,
} from './aggregate/define-aggregate.ts'
export type {
  Aggregate,
  AggregateConfig,
  AnyAggregate,
  CommandFrom,
  CommandHandler,
  CommandsOf,
  DecideContext,
  DecideResult,
  EventLike,
  EventFrom,
  Invariant,
  Rejection,
  StateFrom,
} from './aggregate/define-aggregate.ts'
export { foldEvents, decodeForAggregate } from './aggregate/replay.ts'
export { validateEvents, describeState } from './aggregate/validate-events.ts'
export { findNonDeterminism } from './aggregate/machine-rules.ts'

// Errors
export {
  StatesourceError,
  isStatesourceError,
  ConcurrencyError,
  CommandRejectedError,
  UnknownManifestError,
  TimeoutError,
  JournalError,
  NotConfiguredError,
  RecoveryError,
} from './errors.ts'
export type { StatesourceErrorCode, RejectionSource } from './errors.ts'

// Gateway and repository
export { createGatewayLogic, GatewayRuntime } from './gateway/gateway-logic.ts'
export type {
  GatewayCommandEvent,
  GatewayLogic,
  GatewayEvent,
  GatewaySnapshot,
  GatewayStats,
  SendOptions,
  SendResult,
} from './gateway/gateway-logic.ts'
export type { GatewayConfig, PassivationConfig, RestartLimit, SnapshotPolicy } from './gateway/gateway-config.ts'
export { RecoveryPermits } from './gateway/recovery-permits.ts'
export { createRepository } from './repository/repository.ts'
export type { Repository, RepositoryConfig } from './repository/repository.ts'

// Topology
export { CqrsPattern, CqrsBuilder, CqrsTopology } from './topology/cqrs-pattern.ts'
export type { CqrsBuilderConfig, MaterializeOptions, ReaderRetry, RetrySchedule } from './topology/cqrs-pattern.ts'
export { CqrsHandles } from './topology/cqrs-handles.ts'
export type { CqrsTopologyDescription } from './topology/cqrs-topology.ts'

// Codecs
export { EventCodecRegistry } from './codec/event-codec-registry.ts'
export type { DomainEvent, EventDecoder, Upcaster } from './codec/event-codec-registry.ts'

// Extensions
export { runInterceptors, toInterceptor } from './extensions/interceptor.ts'
export type { Interceptor, InterceptorContext, InterceptorFn, InterceptorResult } from './extensions/interceptor.ts'
export { toListener } from './extensions/listener.ts'
export type { Listener, ListenerFn } from './extensions/listener.ts'
export { TapHub } from './extensions/tap.ts'
export type { TapConfig, TapOverflow, TapStatus, TapTarget, TappedCommand } from './extensions/tap.ts'
export { consoleLogger, silentLogger } from './logger.ts'
export type { Logger } from './logger.ts'

// Persistence contracts and in-memory implementations
export { manifestOf } from './persistence/envelope.ts'
export type { AppendOutcome, AppendRequest, EventEnvelope, EventMetadata, NewEvent } from './persistence/envelope.ts'
export type { Journal, ReplayOptions } from './persistence/journal.ts'
export type { ReadJournal } from './persistence/read-journal.ts'
export type { SnapshotStore, StoredSnapshot } from './persistence/snapshot-store.ts'
export type { OffsetStore } from './persistence/offset-store.ts'
export { createPollingReadJournal } from './persistence/polling-read-journal.ts'
export type { EventPageSource, PollingReadJournalConfig } from './persistence/polling-read-journal.ts'
export { InMemoryJournal, createInMemoryJournal } from './persistence/in-memory/in-memory-journal.ts'
export type { InMemoryJournalConfig } from './persistence/in-memory/in-memory-journal.ts'
export { InMemorySnapshotStore, createInMemorySnapshotStore } from './persistence/in-memory/in-memory-snapshot-store.ts'
export { InMemoryOffsetStore, createInMemoryOffsetStore } from './persistence/in-memory/in-memory-offset-store.ts'

// Internal helpers other statesource packages use
export { toJson } from './internal/json.ts'
export { MachineRuntime } from './internal/machine-runtime.ts'
