/**
 * `pnpm bench`: runs every benchmark, prints the report, writes it (charts and tables) into
 * docs/benchmarks.md and the flat figures into bench-results.json at the repository root.
 * `--quick` runs small sizes and writes nothing; `--scale=10m` makes the scale run 10,000,000 events;
 * `--synchronous=NORMAL` runs every side without syncing each commit (labelled so in the report).
 * PostgreSQL rows run against `STATESOURCE_PG_URL`, else the machine's server; `--postgres-only` skips the
 * SQLite benchmarks and `--no-postgres` the PostgreSQL ones.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatReport, toResults, writeReport } from './bench-report.ts'
import { TEN_MILLION, runBench } from './bench-runner.ts'
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

if (!postgresOnly && !clusterOnly) {
  const run = await runBench({
    quick,
    ...(tenMillion ? { sizes: TEN_MILLION } : {}),
    ...(normal ? { synchronous: 'NORMAL' as const } : {}),
    log,
  })
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
}
if (withPostgres && !clusterOnly) {
  const pgUrl = process.env.STATESOURCE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const pgRun = await runPostgresBench({ url: pgUrl, quick, log })
  console.log(formatPostgresTable(pgRun))
  if (!quick) {
    writePostgresReport(pgRun, docsPath, jsonPath)
    console.log('Wrote the PostgreSQL rows into docs/benchmarks.md and bench-results.json.')
  }
}
// Cluster rows (`--cluster-only` runs just these): several gateway processes on this PostgreSQL and the NATS
// server at STATESOURCE_NATS_URL (default 127.0.0.1:4222); `--no-cluster` skips them.
if (!postgresOnly && !process.argv.includes('--no-cluster')) {
  const pgUrl = process.env.STATESOURCE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
  const natsUrl = process.env.STATESOURCE_NATS_URL ?? '127.0.0.1:4222'
  const clusterRun = await runClusterBench({ pgUrl, natsUrl, quick, log })
  console.log(formatClusterTable(clusterRun))
  if (!quick) {
    writeClusterReport(clusterRun, docsPath, jsonPath)
    console.log('Wrote the cluster rows into docs/benchmarks.md and bench-results.json.')
  }
}
if (quick)
  console.log('Quick mode: docs/benchmarks.md, its charts and bench-results.json were left unchanged.')
console.error(`[bench] total ${((performance.now() - started) / 1000).toFixed(0)} s`)
