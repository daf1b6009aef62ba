import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { type AnyAggregate, EventCodecRegistry, StatesourceError } from '@statesource/core'
import { openSqlite } from '@statesource/sqlite'
import { checkChart } from '../checks/chart-checks.ts'
import { auditJournal } from '../checks/journal-audit.ts'
import { isAggregate, writeChartExports } from '../export/chart-export.ts'
import { startViewer } from '../viewer/viewer-server.ts'

/** Where the CLI writes and how it waits; tests pass their own. */
export interface CliIo {
  readonly out: (line: string) => void
  readonly err: (line: string) => void
  /** Resolves when `view` should stop. Default: on SIGINT or SIGTERM. */
  readonly untilStopped?: () => Promise<void>
  /** Called with the viewer's URL once it listens. */
  readonly onListening?: (url: string) => void
  readonly cwd?: string
}

/** The aggregates (and optional codecs) a module exports. */
export interface LoadedAggregates {
  readonly aggregates: AnyAggregate[]
  readonly codecs: EventCodecRegistry | undefined
}

const USAGE = `statesource: Stately tooling for statesource

  statesource export --aggregates <module> [--out <dir>] [--format json,mermaid]
      Writes <type>.json (Stately Studio / visualizer import) and <type>.mmd (Mermaid) per aggregate.
  statesource view <sqlite file> [--aggregates <module>] [--port <n>] [--page-size <n>]
      Serves the lifecycle viewer on 127.0.0.1 (default port 4321).
  statesource check --aggregates <module> [<sqlite file>]
      Chart checks for every aggregate and, with a database, the journal audit. Exits 1 on findings.

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
 * Runs the `statesource` command line (`export`, `view`, `check`) and returns the exit code.
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

function parse(args: readonly string[], options: Record<string, { type: 'string' }>) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true })
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
  const formats = (values.format ?? 'json,mermaid').split(',').map((f) => f.trim())
  for (const f of formats) {
    if (f !== 'json' && f !== 'mermaid') {
      throw new StatesourceError(
        'INVALID_INPUT',
        `Unknown format "${f}". Use json, mermaid or both (json,mermaid).`,
      )
    }
  }
  const out = resolve(io.cwd ?? process.cwd(), values.out ?? 'statecharts')
  const result = await writeChartExports(aggregates, out, { formats: formats as ('json' | 'mermaid')[] })
  for (const chart of result.exports) {
    for (const w of chart.warnings) io.err(`warning: ${chart.name}: ${w.message}`)
  }
  for (const file of result.files) io.out(`wrote ${file}`)
  return 0
}

async function openDatabase(file: string, io: CliIo) {
  const path = resolve(io.cwd ?? process.cwd(), file)
  // openSqlite creates missing files; a viewer or an audit of a typo must not.
  if (!existsSync(path)) {
    throw new StatesourceError(
      'INVALID_INPUT',
      `The database "${path}" does not exist. Pass the SQLite file your app writes.`,
    )
  }
  return openSqlite(path)
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
  const loaded = values.aggregates ? await loadAggregates(values.aggregates, io.cwd) : undefined
  const sqlite = await openDatabase(file, io)
  try {
    const viewer = await startViewer({
      source: sqlite.journal,
      ...(loaded ? { aggregates: loaded.aggregates } : {}),
      ...(loaded?.codecs ? { codecs: loaded.codecs } : {}),
      port: values.port === undefined ? 4321 : Number(values.port),
      ...(values['page-size'] ? { pageSize: Number(values['page-size']) } : {}),
    })
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
  const { values, positionals } = parse(args, { aggregates: { type: 'string' } })
  if (!values.aggregates) throw new StatesourceError('INVALID_INPUT', 'check needs --aggregates <module>.')
  const { aggregates, codecs } = await loadAggregates(values.aggregates, io.cwd)
  let problems = 0
  for (const aggregate of aggregates) {
    const result = checkChart(aggregate)
    for (const state of result.unreachableStates) {
      io.out(`${aggregate.type}: state "${state}" is unreachable by any event`)
      problems++
    }
    for (const event of result.eventsNoDecideProduces) {
      io.out(`${aggregate.type}: no command's decide produces event "${event}"`)
      problems++
    }
    for (const event of result.eventsTheChartIgnores) {
      io.out(`${aggregate.type}: decide produces "${event}", which the chart handles nowhere`)
      problems++
    }
    if (result.ok) io.out(`${aggregate.type}: chart ok`)
  }
  const file = positionals[0]
  if (file) {
    const sqlite = await openDatabase(file, io)
    try {
      const audit = await auditJournal(sqlite.journal, { aggregates, ...(codecs ? { codecs } : {}) })
      for (const f of audit.findings) {
        io.out(
          `${f.persistenceId}#${f.seqNr}: ${f.message}${f.uncheckedAfter > 0 ? ` (${f.uncheckedAfter} later events not checked)` : ''}`,
        )
      }
      for (const pid of audit.unknownStreams)
        io.out(`${pid}: no aggregate of this type was given; not replayed`)
      io.out(
        `journal audit: ${audit.streams} streams, ${audit.events} events, ${audit.findings.length} broken`,
      )
      problems += audit.findings.length
    } finally {
      await sqlite.close()
    }
  }
  return problems === 0 ? 0 : 1
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
