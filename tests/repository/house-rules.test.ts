// The house rules of CONTRIBUTING.md that a machine can check, so that they hold without a reviewer.
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../..', import.meta.url))
const packagesDir = join(root, 'packages')
const packages = readdirSync(packagesDir, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)

/** Every file under `dir` (node_modules and dist left out), as paths relative to the repository. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && !/(^|\/)(node_modules|dist)(\/|$)/.test(entry.parentPath))
    .map((entry) => relative(root, join(entry.parentPath, entry.name)))
    .sort()
}

const sourceFiles = packages.flatMap((name) =>
  filesUnder(join(packagesDir, name, 'src')).filter((file) => /\.(ts|js)$/.test(file)),
)
const testFiles = [
  ...packages.flatMap((name) => filesUnder(join(packagesDir, name))),
  ...filesUnder(join(root, 'tests')),
  ...filesUnder(join(root, 'docs')),
].filter(
  (file) => file.endsWith('.test.ts') || file.endsWith('/journal-contract.ts') || file.endsWith('-suite.ts'),
)

describe('house rules', () => {
  it("keeps every package's tests in its test/ folder, none beside the source", () => {
    expect(sourceFiles.filter((file) => file.endsWith('.test.ts'))).toEqual([])
  })

  it('marks hot-path files on their first lines with benchmarks that exist', () => {
    const marked = sourceFiles.flatMap((file) => {
      const lines = readFileSync(join(root, file), 'utf8').split('\n')
      const at = lines.findIndex((line) => line.startsWith('// Hot path:'))
      return at < 0 ? [] : [{ file, at, line: lines[at]! }]
    })
    expect(marked.length).toBeGreaterThan(0)
    for (const { file, at, line } of marked) {
      // After `// @ts-check` at most: the marker is the first thing a reader of the file sees.
      expect(at, `${file}: the hot-path marker belongs on the first line`).toBeLessThanOrEqual(1)
      expect(line, file).toMatch(/^\/\/ Hot path: measured by \S+\.ts( and \S+\.ts)* \(pnpm bench\)\./)
      for (const bench of line.match(/packages\/\S+\.ts/g) ?? []) {
        expect(filesUnder(join(root, bench, '..')), `${file} names ${bench}`).toContain(bench)
      }
    }
  })

  it('names tests after behaviour, not after ids of specifications kept elsewhere', () => {
    const title = /\b(?:it|test|describe)(?:\.each\([^)]*\))?\(\s*(['"`])(.*?)\1/g
    const withIds = testFiles.flatMap((file) =>
      [...readFileSync(join(root, file), 'utf8').matchAll(title)]
        .map((match) => match[2]!)
        .filter((name) => /§|(?:^|[\s(])[A-Z]{1,2}-?\d+(?:[\s,):]|$)/.test(name))
        .map((name) => `${file}: ${name}`),
    )
    expect(withIds).toEqual([])
  })
})
