import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type AnyAggregate, EventCodecRegistry, StatesourceError } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { type ChartCheckResult, checkChart } from '../checks/chart-checks.ts'
import { auditJournal, type JournalAuditResult } from '../checks/journal-audit.ts'
import { isAggregate, writeChartExports } from '../export/chart-export.ts'
import { readInspectionLog } from '../recorder/inspection-recorder.ts'
import { startInspectorRelay } from '../recorder/inspector-relay.ts'
import { sendInspectionLog } from '../recorder/send-inspection-log.ts'
import { startViewer } from '../viewer/viewer-server.ts'

/** Where the CLI writes and how it waits; tests pass their own. */
export interface CliIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Resolves when `view` or `replay` should stop. Default: on SIGINT or SIGTERM. */
  readonly untilStopped?: () => Promise<void>
  /** Called with the URL of the viewer (or the replay relay) once it listens. */
  readonly onListening?: (url: string) => void
  readonly cwd?: string
}

/** The aggregates (and optional codecs) a module exports. */
export interface LoadedAggregates {
  readonly aggregates: AnyAggregate[]
  readonly codecs: EventCodecRegistry | undefined
}

const USAGE = `statesource: Stately tooling for statesource

  statesource export --aggregates <module> [--out <dir>] [--format json,ts,mermaid]
      Writes <type>.ts (setup(...).createMachine(...) for Stately Studio's import, stub implementations),
      <type>.json (the machine config) and <type>.mmd (Mermaid) per aggregate.
  statesource view <sqlite file> [--aggregates <module>] [--port <n>] [--page-size <n>]
      Serves the lifecycle viewer on 127.0.0.1 (default port 4321).
  statesource check --aggregates <module> [--baseline <dir>] [--json] [<sqlite file>]
      Chart checks for every aggregate; with --baseline (a directory statesource export wrote from the
      chart the history was written with), changes that break that history; with a database, the journal
      audit (findings grouped by cause) and the snapshot check. --json prints one JSON document for CI.
      Exits 1 on findings.

  statesource replay <recording.jsonl> [--port <n>] [--to <ws url>]
      Replays a recording of createInspectionRecorder to the Stately inspector: starts a relay on
      127.0.0.1 (default port 8080) whose page shows the whole recording, or, with --to, sends it to a
      running inspector server (startInspectorRelay, @statelyai/inspect/server) and exits.

<module> is a .ts or .js file exporting aggregates (defineAggregate results, as named exports or an
array), and optionally an EventCodecRegistry named "codecs". It is imported, so its code runs: pass only
your own.`

/**
 * Imports a module and collects the aggregates it exports (named exports, or arrays of them, or a default
 * export of either) and an `EventCodecRegistry` exported as `codecs`.
 *
 * @example
 * ```ts
 * const { aggregates, codecs } = await loadAggregates('./src/aggregates.ts')
 * ```
 *
 * @remarks TypeScript modules load when tsx is registered, as the `statesource` bin does. The module is
 * imported, so its top-level code runs with the caller's rights: load only your own code.
 */
export async function loadAggregates(path: string, cwd: string = process.cwd()): Promise<LoadedAggregates> {
  const file = resolve(cwd, path)
  if (!existsSync(file)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The aggregates module "${file}" does not exist. Pass the path of a module that exports your aggregates.`,
    )
  }
  const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>
  const aggregates: AnyAggregate[] = []
  const seen = new Set<string>()
  const add = (value: unknown) => {
    if (Array.isArray(value)) for (const v of value) add(v)
    else if (isAggregate(value) && !seen.has(value.type)) {
      seen.add(value.type)
      aggregates.push(value)
    }
  }
  for (const value of Object.values(module)) add(value)
  const defaults = module.default
  if (defaults && typeof defaults === 'object' && !Array.isArray(defaults) && !isAggregate(defaults)) {
    for (const value of Object.values(defaults)) add(value)
  }
  if (aggregates.length === 0) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The module "${file}" exports no aggregate. Export the results of defineAggregate(...) from it.`,
    )
  }
  const codecs = module.codecs instanceof EventCodecRegistry ? module.codecs : undefined
  return { aggregates, codecs }
}

/**
 * Runs the `statesource` command line (`export`, `view`, `check`, `replay`) and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await runCli(['export', '--aggregates', './src/aggregates.ts', '--out', 'charts'], {
 *   out: console.log,
 *   err: console.error,
 * })
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'export':
        return await exportCommand(rest, io)
      case 'view':
        return await viewCommand(rest, io)
      case 'check':
        return await checkCommand(rest, io)
      case 'replay':
        return await replayCommand(rest, io)
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE)
        return command === undefined ? 2 : 0
      default:
        io.err(`Unknown command "${command}".\n\n${USAGE}`)
        return 2
    }
  } catch (error) {
    io.err(`statesource ${command}: ${(error as Error)?.message ?? error}`)
    return 1
  }
}

function parse<const T extends Record<string, { type: 'string' } | { type: 'boolean' }>>(
  args: readonly string[],
  options: T,
) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true } as const)
  } catch (error) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `${(error as Error).message}. Run "statesource help" for usage.`,
    )
  }
}

async function exportCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, {
    aggregates: { type: 'string' },
    out: { type: 'string' },
    format: { type: 'string' },
  })
  if (!values.aggregates) throw new StatesourceError('INVALID_INPUT', 'export needs --aggregates <module>.')
  const { aggregates } = await loadAggregates(values.aggregates, io.cwd)
  const formats = (values.format ?? 'json,ts,mermaid').split(',').map((f) => f.trim())
  for (const f of formats) {
    if (f !== 'json' && f !== 'ts' && f !== 'mermaid') {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Unknown format "${f}". Use json, ts, mermaid or a list of them (json,ts,mermaid).`,
      )
    }
  }
  const out = resolve(io.cwd ?? process.cwd(), values.out ?? 'statecharts')
  const result = await writeChartExports(aggregates, out, {
    formats: formats as ('json' | 'ts' | 'mermaid')[],
  })
  for (const chart of result.exports) {
    for (const w of chart.warnings) io.err(`warning: ${chart.name}: ${w.message}`)
  }
  for (const file of result.files) io.out(`wrote ${file}`)
  return 0
}

async function openDatabase(file: string, io: CliIo) {
  const path = resolve(io.cwd ?? process.cwd(), file)
  // Inspection never creates, migrates or converts a file (no WAL switch): read-only, and only a database
  // that already holds statesource's tables.
  if (!existsSync(path)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The database "${path}" does not exist. Pass the SQLite file your app writes.`,
    )
  }
  return openSqlite(path, { readOnly: true })
}

/** An integer option in a range, or an INVALID_INPUT error naming the flag. */
function integerOption(value: string | undefined, flag: string, min: number, max: number, fallback: number) {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}.`,
    )
  }
  return n
}

/** Names the flag when the viewer cannot listen on the port it was given. */
function listenFailure(error: unknown, port: number): unknown {
  // The viewer wraps the listen error; its code is on the cause.
  const raw = (error as { cause?: unknown } | null)?.cause ?? error
  const code = (raw as { code?: unknown } | null)?.code
  if (code === 'EADDRINUSE') {
    return new StatesourceError(
      'INVALID_INPUT',
      `Port ${port} is already in use. Pass another one with --port <n> (or --port 0 for any free port).`,
      { cause: error },
    )
  }
  if (code === 'EACCES') {
    return new StatesourceError(
      'INVALID_INPUT',
      `Port ${port} may not be opened by this user. Pass a port above 1023 with --port <n>.`,
      { cause: error },
    )
  }
  return error
}

async function viewCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    aggregates: { type: 'string' },
    port: { type: 'string' },
    'page-size': { type: 'string' },
  })
  const file = positionals[0]
  if (!file)
    throw new StatesourceError('INVALID_INPUT', 'view needs the SQLite file: statesource view app.db.')
  const port = integerOption(values.port, '--port', 0, 65_535, 4321)
  const pageSize = integerOption(values['page-size'], '--page-size', 1, 10_000, 0)
  const loaded = values.aggregates ? await loadAggregates(values.aggregates, io.cwd) : undefined
  const sqlite = await openDatabase(file, io)
  try {
    const viewer = await startViewer({
      source: sqlite.journal,
      ...(loaded ? { aggregates: loaded.aggregates } : {}),
      ...(loaded?.codecs ? { codecs: loaded.codecs } : {}),
      port,
      ...(pageSize > 0 ? { pageSize } : {}),
    }).catch((error: unknown) => Promise.reject(listenFailure(error, port)))
    io.out(`statesource viewer: ${viewer.url}`)
    if (!loaded) io.out('No --aggregates given: streams and events are listed, charts are not drawn.')
    io.onListening?.(viewer.url)
    await (io.untilStopped ?? untilSignal)()
    await viewer.close()
  } finally {
    await sqlite.close()
  }
  return 0
}

async function checkCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, {
    aggregates: { type: 'string' },
    baseline: { type: 'string' },
    json: { type: 'boolean' },
  })
  if (!values.aggregates) throw new StatesourceError('INVALID_INPUT', 'check needs --aggregates <module>.')
  const { aggregates, codecs } = await loadAggregates(values.aggregates, io.cwd)
  const charts: ChartCheckResult[] = []
  for (const aggregate of aggregates) {
    const baseline = values.baseline ? await readBaseline(values.baseline, aggregate.type, io) : undefined
    charts.push(checkChart(aggregate, baseline ? { baseline } : {}))
  }
  const file = positionals[0]
  let audit: JournalAuditResult | undefined
  if (file) {
    const sqlite = await openDatabase(file, io)
    try {
      audit = await auditJournal(sqlite.journal, {
        aggregates,
        snapshotStore: sqlite.snapshotStore,
        ...(codecs ? { codecs } : {}),
      })
    } finally {
      await sqlite.close()
    }
  }
  const problems = charts.filter((c) => !c.ok).length + (audit && !audit.ok ? 1 : 0)
  if (values.json) {
    io.out(JSON.stringify({ ok: problems === 0, charts, ...(audit ? { audit } : {}) }, null, 2))
    return problems === 0 ? 0 : 1
  }
  for (const result of charts) {
    const name = result.aggregate
    for (const state of result.unreachableStates)
      io.out(`${name}: state "${state}" is unreachable by any event`)
    for (const event of result.eventsNoDecideProduces)
      io.out(`${name}: no command's decide produces event "${event}"`)
    for (const event of result.eventsTheChartIgnores)
      io.out(`${name}: decide produces "${event}", which the chart handles nowhere`)
    for (const change of result.historyBreakingChanges) io.out(`${name}: ${change.message}`)
    if (result.ok)
      io.out(`${name}: chart ok${values.baseline ? ' (no history-breaking change from the baseline)' : ''}`)
  }
  if (audit) {
    for (const group of audit.groups) {
      const more =
        group.count > group.examples.length ? `, ... (${group.count - group.examples.length} more)` : ''
      io.out(
        `${group.count} ${group.count === 1 ? 'stream' : 'streams'}: ${group.message}. At ${group.examples.join(', ')}${more}`,
      )
    }
    const unchecked = audit.findings.reduce((n, f) => n + f.uncheckedAfter, 0)
    if (unchecked > 0) io.out(`${unchecked} later events of those streams were not checked.`)
    for (const pid of audit.unknownStreams)
      io.out(`${pid}: no aggregate of this type was given; not replayed`)
    for (const finding of audit.snapshots?.findings ?? []) io.out(finding.message)
    const snapshots = audit.snapshots
    io.out(
      `journal audit: ${audit.streams} streams, ${audit.events} events, ${audit.findings.length} broken` +
        (snapshots
          ? `; snapshots: ${snapshots.checked} checked, ${snapshots.stale} of another version, ${snapshots.findings.length} unusable`
          : ''),
    )
  }
  return problems === 0 ? 0 : 1
}

async function readBaseline(dir: string, type: string, io: CliIo): Promise<Record<string, unknown>> {
  const file = resolve(io.cwd ?? process.cwd(), dir, `${type.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`)
  if (!existsSync(file)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `No baseline chart for aggregate "${type}" at "${file}". Write one with statesource export --out ${dir} from the version whose history you keep.`,
    )
  }
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>
  } catch (error) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The baseline "${file}" is not JSON (${(error as Error).message}). Pass the directory statesource export wrote.`,
    )
  }
}

async function replayCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, { port: { type: 'string' }, to: { type: 'string' } })
  const file = positionals[0]
  if (!file) {
    throw new StatesourceError(
      'INVALID_INPUT',
      'replay needs the recording: statesource replay inspection.jsonl.',
    )
  }
  const path = resolve(io.cwd ?? process.cwd(), file)
  if (!existsSync(path)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The recording "${path}" does not exist. Pass a file written by createInspectionRecorder({ file }).`,
    )
  }
  const events = (await readInspectionLog(path)).filter((e) => e.type.startsWith('@xstate.'))
  if (values.to) {
    const sent = await sendInspectionLog(events, { url: values.to })
    io.out(`sent ${sent} inspection events to ${values.to}`)
    return 0
  }
  // A buffer as long as the recording: every page that connects is shown all of it.
  const relay = await startInspectorRelay({
    port: values.port === undefined ? 8080 : Number(values.port),
    bufferSize: Math.max(events.length, 1),
  })
  try {
    await sendInspectionLog(events, { url: relay.wsUrl })
    io.out(`statesource replay: ${events.length} inspection events; open ${relay.url}`)
    io.out('The page embeds the Stately inspector (https://stately.ai/inspect), which needs the network.')
    io.onListening?.(relay.url)
    await (io.untilStopped ?? untilSignal)()
  } finally {
    await relay.close()
  }
  return 0
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}
