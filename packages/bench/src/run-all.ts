/**
 * `pnpm bench`: runs every benchmark, prints the table, writes it into docs/benchmarks.md and the flat
 * figures into bench-results.json at the repository root. `--quick` runs small sizes and writes nothing.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatTable, toResults, writeReport } from './bench-report.ts'
import { runBench } from './bench-runner.ts'
import { formatPostgresTable, runPostgresBench, writePostgresReport } from './cases/postgres-case.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const quick = process.argv.includes('--quick')
const started = performance.now()
// PostgreSQL rows: against STATESOURCE_PG_URL, else the machine's server; `--postgres-only` skips SQLite.
const pgUrl = process.env.STATESOURCE_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const docsPath = path.join(root, 'docs', 'benchmarks.md')
const jsonPath = path.join(root, 'bench-results.json')
if (!process.argv.includes('--postgres-only')) {
  const run = await runBench({ quick, log: (line) => console.error(`[bench] ${line}`) })
  const results = toResults(run)
  console.log(formatTable(results))
  if (!quick) writeReport(results, docsPath, jsonPath)
}
const pgRun = await runPostgresBench({ url: pgUrl, quick, log: (line) => console.error(`[bench] ${line}`) })
console.log(formatPostgresTable(pgRun))
if (quick) {
  console.log('Quick mode: docs/benchmarks.md and bench-results.json were left unchanged.')
} else {
  writePostgresReport(pgRun, docsPath, jsonPath)
  console.log('Wrote docs/benchmarks.md and bench-results.json.')
}
console.error(`[bench] total ${((performance.now() - started) / 1000).toFixed(0)} s`)
