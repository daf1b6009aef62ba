// Aggregates
export {
  defineAggregate,
  isRejection,
  PERSISTENCE_ID_SEPARATOR,
  reject,
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
  EventFrom,
  EventLike,
  Invariant,
  Rejection,
  StateFrom,
} from './aggregate/define-aggregate.ts'
export { foldEvents } from './aggregate/replay.ts'

// Defaults of every option, in one place
export { CQRS_DEFAULTS, READ_JOURNAL_DEFAULTS } from './defaults.ts'

// Errors
export {
  CommandRejectedError,
  ConcurrencyError,
  isStatesourceError,
  JournalError,
  JournalOutcomeUnknownError,
  NotConfiguredError,
  OverloadedError,
  RecoveryError,
  StatesourceError,
  TimeoutError,
  UnknownManifestError,
} from './errors.ts'
export type { OverloadBound, RejectionSource, StatesourceErrorCode } from './errors.ts'

// Gateway and repository
export type {
  CommandQueueLimits,
  GatewayConfig,
  PassivationConfig,
  RestartLimit,
  SnapshotPolicy,
} from './gateway/gateway-config.ts'
export type { GatewayLogic, GatewaySnapshot } from './gateway/gateway-logic.ts'
export type { GatewayPipelineEvent } from './gateway/gateway-scope.ts'
export type { GatewayStats } from './gateway/gateway-stats.ts'
export type {
  GatewayCommandEvent,
  GatewayEvent,
  GatewayStateRequest,
  SendOptions,
  SendResult,
} from './gateway/messages.ts'
export { createRepository } from './repository/repository.ts'
export type { Repository, RepositoryConfig, StateOptions } from './repository/repository.ts'

// Topology
export { CqrsHandles } from './topology/cqrs-handles.ts'
export { CqrsBuilder, CqrsPattern } from './topology/cqrs-pattern.ts'
export type { CqrsBuilderConfig } from './topology/cqrs-pattern.ts'
export { CqrsTopology } from './topology/cqrs-topology.ts'
export type { CqrsTopologyDescription, MaterializeOptions } from './topology/cqrs-topology.ts'

// Codecs
export { EventCodecRegistry } from './codec/event-codec-registry.ts'
export type { DomainEvent, EventDecoder, Upcaster } from './codec/event-codec-registry.ts'

// Read side
export { createInMemoryDeadLetterStore, InMemoryDeadLetterStore } from './read-side/dead-letter-store.ts'
export type { DeadLetter, DeadLetterStore } from './read-side/dead-letter-store.ts'
export { DEFAULT_WAIT_TIMEOUT_MS } from './read-side/projection-handle.ts'
export type {
  ProjectionHandle,
  ProjectionSelection,
  ProjectionSubscription,
  ReaderPhase,
  ReaderStatus,
  SkippedEvent,
  WaitForOffsetOptions,
} from './read-side/projection-handle.ts'
export { DEFAULT_CHECKPOINT_EVENTS, DEFAULT_CHECKPOINT_MS, defineReader } from './read-side/reader.ts'
export type {
  AnyReader,
  CheckpointConfig,
  Reader,
  ReaderErrorPolicy,
  ReaderRetry,
  ReaderStateFrom,
  RetrySchedule,
  TransactionalOffsetStore,
} from './read-side/reader.ts'
export type { PlacedReader, ReaderPlacement } from './read-side/reader-placement.ts'
export { ProjectionError } from './read-side/reader-errors.ts'
export type { EventPosition } from './read-side/reader-errors.ts'
export { ReaderFilter } from './read-side/reader-filter.ts'

// Audit
export { AuditLog, AuditProjection, DEFAULT_AUDIT_CAPACITY } from './audit/audit-log.ts'
export type { AuditEntry, AuditLogConfig } from './audit/audit-log.ts'

// Extensions
export { interceptPass, interceptReject } from './extensions/interceptor.ts'
export type {
  ActorInterceptor,
  FunctionInterceptor,
  Interceptor,
  InterceptorContext,
  InterceptorFn,
  InterceptorResult,
  InterceptPass,
  InterceptReject,
  InterceptRequest,
} from './extensions/interceptor.ts'
export type { Listener, ListenerFn } from './extensions/listener.ts'
export type {
  EnvelopeOf,
  TapConfig,
  TapOverflow,
  TappedCommand,
  TapReport,
  TapStatus,
  TapTarget,
} from './extensions/tap.ts'
export { validateWith } from './extensions/validate-with.ts'
export type { StandardSchemaLike, ValidateWithOptions } from './extensions/validate-with.ts'
export { consoleLogger, silentLogger } from './logger.ts'
export type { Logger } from './logger.ts'

// Scheduling
export { createDurableScheduler } from './scheduling/durable-scheduler.ts'
export type {
  DurableScheduledCommand,
  DurableScheduleOptions,
  DurableScheduler,
  DurableSchedulerConfig,
  DurableSchedulerStart,
} from './scheduling/durable-scheduler.ts'
export { scheduleCommand } from './scheduling/schedule-command.ts'
export type {
  ScheduleCommandOptions,
  ScheduledCommand,
  ScheduledCommandInfo,
  ScheduleOutcome,
  ScheduleWhen,
} from './scheduling/schedule-command.ts'
export {
  createInMemoryScheduleStore,
  duplicateSchedule,
  duplicateScheduleError,
  InMemoryScheduleStore,
} from './scheduling/schedule-store.ts'
export type {
  ScheduleSettlement,
  ScheduleStatus,
  ScheduleStore,
  StoredSchedule,
} from './scheduling/schedule-store.ts'

// Persistence contracts and in-memory implementations
export { manifestOf } from './persistence/envelope.ts'
export type {
  AppendOutcome,
  AppendRequest,
  EventEnvelope,
  EventMetadata,
  NewEvent,
} from './persistence/envelope.ts'
export { createInMemoryJournal, InMemoryJournal } from './persistence/in-memory/in-memory-journal.ts'
export type { InMemoryJournalConfig } from './persistence/in-memory/in-memory-journal.ts'
export {
  createInMemoryOffsetStore,
  InMemoryOffsetStore,
} from './persistence/in-memory/in-memory-offset-store.ts'
export {
  createInMemorySnapshotStore,
  InMemorySnapshotStore,
} from './persistence/in-memory/in-memory-snapshot-store.ts'
export type { Journal, RecoveryRead, RecoveryReadOptions, ReplayOptions } from './persistence/journal.ts'
export {
  checkEventLimits,
  checkPersistenceId,
  DEFAULT_INPUT_LIMITS,
  resolveInputLimits,
} from './persistence/limits.ts'
export type { InputLimits, ResolvedInputLimits } from './persistence/limits.ts'
export type { OffsetStore } from './persistence/offset-store.ts'
export { createPollingReadJournal } from './persistence/polling-read-journal.ts'
export type { EventPageSource, PollingReadJournalConfig } from './persistence/polling-read-journal.ts'
export type { ReadJournal } from './persistence/read-journal.ts'
export type { SnapshotStore, StoredSnapshot } from './persistence/snapshot-store.ts'

// Building block for journal implementations: the strict JSON serializer every journal uses, so that bad
// payloads fail with SERIALIZATION_FAILED everywhere (the custom-journal guide uses it). What only this
// repository's own packages need is in `@statesource/core/internal`, which is not a stable API.
export { toJson } from './internal/json.ts'
export { checkText, checkTexts } from './persistence/check-text.ts'
