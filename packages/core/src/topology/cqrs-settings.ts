import type { AnyAggregate } from '../aggregate/define-aggregate.ts'
import type { EventCodecRegistry } from '../codec/event-codec-registry.ts'
import type { Interceptor } from '../extensions/interceptor.ts'
import type { Listener } from '../extensions/listener.ts'
import type { TapConfig } from '../extensions/tap.ts'
import type {
  CommandQueueLimits,
  PassivationConfig,
  RestartLimit,
  SnapshotPolicy,
} from '../gateway/gateway-config.ts'
import type { Logger } from '../logger.ts'
import type { Journal } from '../persistence/journal.ts'
import type { OffsetStore } from '../persistence/offset-store.ts'
import type { ReadJournal } from '../persistence/read-journal.ts'
import type { SnapshotStore } from '../persistence/snapshot-store.ts'
import type { ReaderRetry } from '../read-side/reader.ts'

/** @internal State a builder accumulates; the topology hands it to the gateway and the read side. */
export interface CqrsSettings {
  name: string
  journal: Journal
  aggregates: AnyAggregate[]
  readJournal: ReadJournal | undefined
  offsetStore: OffsetStore | undefined
  recoveryPermits: number
  pollIntervalMs: number
  repositoryTimeoutMs: number
  writerId: string
  writerIdExplicit: boolean
  snapshotStore: SnapshotStore | undefined
  snapshotPolicy: SnapshotPolicy | undefined
  snapshotKeepLast: number
  dedupeWindow: number
  codecs: EventCodecRegistry | undefined
  readerRetry: ReaderRetry | undefined
  interceptors: Interceptor[]
  listeners: Listener[]
  taps: TapConfig[]
  tapStreamBufferSize: number
  passivation: PassivationConfig
  restartLimit: RestartLimit
  commandQueue: CommandQueueLimits
  logger: Logger
}
