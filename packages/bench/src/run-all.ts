/**
 * `pnpm bench`: runs every benchmark, prints the report, writes it (charts and tables) into
 * docs/benchmarks.md and the flat figures into bench-results.json at the repository root.
 * `--quick` runs small sizes and writes nothing; `--scale=10m` makes the scale run 10,000,000 events;
 * `--synchronous=NORMAL` runs every side without syncing each commit (labelled so in the report).
 * PostgreSQL rows run against `STATESOURCE_PG_URL`, else the machine's server; `--postgres-only` skips the
 * SQLite benchmarks and `--no-postgres` the PostgreSQL ones.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatReport, toResults, writeReport } from './bench-report.ts'
import { type BenchRun, type CaseFailure, runBench, TEN_MILLION } from './bench-runner.ts'
import { formatClusterTable, runClusterBench, writeClusterReport } from './cases/cluster-case.ts'
import { formatPostgresTable, runPostgresBench, writePostgresReport } from './cases/postgres-case.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const quick = process.argv.includes('--quick')
const tenMillion = process.argv.includes('--scale=10m')
const normal = process.argv.includes('--synchronous=NORMAL')
const postgresOnly = process.argv.includes('--postgres-only')
const withPostgres = !process.argv.includes('--no-postgres')
const docsPath = path.join(root, 'docs', 'benchmarks.md')
const jsonPath = path.join(root, 'bench-results.json')
const clusterOnly = process.argv.includes('--cluster-only')
const log = (line: string) => console.error(`[bench] ${line}`)
const started = performance.now()
const reason = (error: unknown) => String((error as Error)?.stack ?? error)

// The SQLite run as far as it got, and the parts after it that failed as a whole: the report is written
// again with them, so that it names every failure.
let sqliteRun: BenchRun | undefined
const partFailures: CaseFailure[] = []
const allFailures = () => [...(sqliteRun?.failures ?? []), ...partFailures]

/** Writes the SQLite report and bench-results.json from the run so far (full mode only). */
async function writeSqlite(run: BenchRun): Promise<void> {
  sqliteRun = run
  if (quick) return
  const withParts = { ...run, failures: allFailures() }
  await writeReport(withParts, toResults(withParts), { docsPath, jsonPath })
}

/**
 * A part (PostgreSQL, cluster) that failed as a whole: its section of docs/benchmarks.md says so instead of
 * keeping an earlier run's figures, and the SQLite report and bench-results.json list the failure.
 */
async function partFailed(key: string, label: string, error: unknown): Promise<void> {
  const failure = { key, label, reason: reason(error) }
  partFailures.push(failure)
  log(`${label}: FAILED: ${failure.reason}`)
  if (quick) return
  const markers = { start: `<!-- ${key}-bench:start -->`, end: `<!-- ${key}-bench:end -->` }
  const page = readFileSync(docsPath, 'utf8')
  const start = page.indexOf(markers.start)
  const end = page.indexOf(markers.end)
  const note = `Not measured in the run of ${new Date().toISOString().slice(0, 10)}: ${failure.reason.split('\n')[0]}\n`
  if (start >= 0 && end > start)
    writeFileSync(docsPath, `${page.slice(0, start + markers.start.length)}\n${note}${page.slice(end)}`)
  if (sqliteRun) {
    // The SQLite report names the failure too; bench-results.json keeps the other parts' keys.
    const withParts = { ...sqliteRun, failures: allFailures() }
    await writeReport(withParts, toResults(withParts), { docsPath })
  }
  let json: Record<string, unknown> = {}
  try {
    json = JSON.parse(readFileSync(jsonPath, 'utf8')) as Record<string, unknown>
  } catch {
    // No results file yet.
  }
  const failures = allFailures()
  json.failed_cases = failures.length
  json.failures = failures.map((f) => `${f.label}: ${f.reason.split('\n')[0]}`).join(' | ')
  writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`)
}

if (!postgresOnly && !clusterOnly) {
  try {
    // Before every case the report and bench-results.json are written again with what the cases before it
    // measured: a crash or a stop late in the run keeps those figures.
    const run = await runBench({
      quick,
      ...(tenMillion ? { sizes: TEN_MILLION } : {}),
      ...(normal ? { synchronous: 'NORMAL' as const } : {}),
      log,
      onProgress: writeSqlite,
    })
    sqliteRun = run
    const results = toResults(run)
    if (quick) {
      console.log(formatReport(run, results, []))
    } else {
      const charts = await writeReport(run, results, { docsPath, jsonPath })
      console.log(formatReport(run, results, charts))
      console.log(
        `Wrote docs/benchmarks.md, ${charts.map((c) => `docs/${c.file}`).join(', ')} and bench-results.json.`,
      )
    }
  } catch (error) {
    // Only the report itself can fail here (every case's failure is caught and reported by the runner).
    partFailures.push({ key: 'sqlite', label: 'SQLite benchmarks', reason: reason(error) })
    log(`SQLite benchmarks: FAILED: ${reason(error)}`)
  }
}
if (withPostgres && !clusterOnly) {
  const pgUrl = process.env.STATESOURCE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  try {
    const pgRun = await runPostgresBench({ url: pgUrl, quick, log })
    console.log(formatPostgresTable(pgRun))
    if (!quick) {
      writePostgresReport(pgRun, docsPath, jsonPath)
      console.log('Wrote the PostgreSQL rows into docs/benchmarks.md and bench-results.json.')
    }
  } catch (error) {
    await partFailed('postgres', 'PostgreSQL benchmarks', error)
  }
}
// Cluster rows (`--cluster-only` runs just these): several gateway processes on this PostgreSQL and the NATS
// server at STATESOURCE_NATS_URL (default 127.0.0.1:4222); `--no-cluster` skips them.
if (!postgresOnly && !process.argv.includes('--no-cluster')) {
  const pgUrl = process.env.STATESOURCE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const natsUrl = process.env.STATESOURCE_NATS_URL ?? '127.0.0.1:4222'
  try {
    const clusterRun = await runClusterBench({ pgUrl, natsUrl, quick, log })
    console.log(formatClusterTable(clusterRun))
    if (!quick) {
      writeClusterReport(clusterRun, docsPath, jsonPath)
      console.log('Wrote the cluster rows into docs/benchmarks.md and bench-results.json.')
    }
  } catch (error) {
    await partFailed('cluster', 'cluster benchmarks', error)
  }
}
if (quick)
  console.log('Quick mode: docs/benchmarks.md, its charts and bench-results.json were left unchanged.')
const failures = allFailures()
if (failures.length > 0) {
  console.error(`[bench] ${failures.length} failed: ${failures.map((f) => f.label).join('; ')}`)
  process.exitCode = 1
}
console.error(`[bench] total ${((performance.now() - started) / 1000).toFixed(0)} s`)
