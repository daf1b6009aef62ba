// Live inspection
export { createInspectionRecorder, readInspectionLog } from './recorder/inspection-recorder.ts'
export type {
  InspectionRecorder,
  InspectionRecorderConfig,
  InspectionRecorderOptions,
  RecordedActor,
  RecordedInspectionEvent,
  StatesourceInspectionRecord,
} from './recorder/inspection-recorder.ts'
export { connectInspector, startInspectorRelay } from './recorder/inspector-relay.ts'
export { sendInspectionLog } from './recorder/send-inspection-log.ts'
export type { SendInspectionLogOptions } from './recorder/send-inspection-log.ts'
export type {
  ConnectedInspector,
  ConnectInspectorOptions,
  InspectorRelay,
  InspectorRelayConfig,
  InspectorRelayOptions,
} from './recorder/inspector-relay.ts'

// Export for Stately Studio, the visualizer and docs
export {
  ANONYMOUS,
  exportChart,
  toMermaid,
  toStatelyConfig,
  writeChartExports,
} from './export/chart-export.ts'
export type { ChartExport, ChartWarning, WriteChartExportsOptions } from './export/chart-export.ts'

// Chart checks and the journal audit
export { checkChart } from './checks/chart-checks.ts'
export type { ChartChange, ChartCheckOptions, ChartCheckResult } from './checks/chart-checks.ts'
export { auditJournal } from './checks/journal-audit.ts'
export type {
  JournalAuditFinding,
  JournalAuditGroup,
  JournalAuditOptions,
  JournalAuditResult,
  SnapshotAuditResult,
  SnapshotFinding,
} from './checks/journal-audit.ts'
export type { JournalSource } from './journal/journal-source.ts'

// Lifecycle viewer
export { startViewer } from './viewer/viewer-server.ts'
export type { Viewer, ViewerConfig } from './viewer/viewer-server.ts'
export { activeStateIds } from './export/state-nodes.ts'
export { LifecycleReplay } from './viewer/lifecycle-replay.ts'
export type { LifecycleState, LifecycleStep } from './viewer/lifecycle-replay.ts'

// CLI
export { loadAggregates, runCli } from './cli/cli.ts'
export type { CliIo, LoadedAggregates } from './cli/cli.ts'
