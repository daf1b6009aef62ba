/**
 * `pnpm bench`: runs every benchmark, prints the report, writes it (charts and tables) into
 * docs/benchmarks.md and the flat figures into bench-results.json at the repository root.
 * `--quick` runs small sizes and writes nothing; `--scale=10m` makes the scale run 10,000,000 events;
 * `--synchronous=NORMAL` runs every side without syncing each commit (labelled so in the report).
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatReport, toResults, writeReport } from './bench-report.ts'
import { TEN_MILLION, runBench } from './bench-runner.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const quick = process.argv.includes('--quick')
const tenMillion = process.argv.includes('--scale=10m')
const normal = process.argv.includes('--synchronous=NORMAL')
const started = performance.now()
const run = await runBench({
  quick,
  ...(tenMillion ? { sizes: TEN_MILLION } : {}),
  ...(normal ? { synchronous: 'NORMAL' as const } : {}),
  log: (line) => console.error(`[bench] ${line}`),
})
const results = toResults(run)
if (quick) {
  console.log(formatReport(run, results, []))
  console.log('Quick mode: docs/benchmarks.md, its charts and bench-results.json were left unchanged.')
} else {
  const charts = await writeReport(run, results, {
    docsPath: path.join(root, 'docs', 'benchmarks.md'),
    jsonPath: path.join(root, 'bench-results.json'),
  })
  console.log(formatReport(run, results, charts))
  console.log(
    `Wrote docs/benchmarks.md, ${charts.map((c) => `docs/${c.file}`).join(', ')} and bench-results.json.`,
  )
}
console.error(`[bench] total ${((performance.now() - started) / 1000).toFixed(0)} s`)
