/**
 * `pnpm bench`: runs every benchmark, prints the table, writes it into docs/benchmarks.md and the flat
 * figures into bench-results.json at the repository root. `--quick` runs small sizes and writes nothing.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatTable, toResults, writeReport } from './bench-report.ts'
import { runBench } from './bench-runner.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..')
const quick = process.argv.includes('--quick')
const started = performance.now()
const run = await runBench({ quick, log: (line) => console.error(`[bench] ${line}`) })
const results = toResults(run)
console.log(formatTable(results))
if (quick) {
  console.log('Quick mode: docs/benchmarks.md and bench-results.json were left unchanged.')
} else {
  writeReport(results, path.join(root, 'docs', 'benchmarks.md'), path.join(root, 'bench-results.json'))
  console.log('Wrote docs/benchmarks.md and bench-results.json.')
}
console.error(`[bench] total ${((performance.now() - started) / 1000).toFixed(0)} s`)
