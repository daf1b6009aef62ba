#!/usr/bin/env node
// Builds the published package in the current directory (its `build` script runs this):
//   node ../../scripts/build-package.mjs [--copy src/<dir>]...
// 1. empties dist/, 2. compiles src/ with the package's tsconfig.build.json (which extends the root
// tsconfig.build.json: ESM JavaScript, .d.ts, source maps) and gives declarations `.js` import paths, 3. copies each --copy folder of files tsc does not
// compile (the viewer's browser page) from src/ to the same place under dist/, 4. checks that every file the
// package.json points users at (exports' `types`/`import`, `bin`) exists, so a broken map fails here and not
// in a user's project. Plain JavaScript on purpose: packing runs it before anything else is built.
import { execFileSync } from 'node:child_process'
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { copy: { type: 'string', multiple: true, default: [] } } })
const packageDir = process.cwd()
const manifest = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8'))

rmSync(path.join(packageDir, 'dist'), { recursive: true, force: true })

// The repository's TypeScript (the root devDependency), whatever directory this runs from.
const typescript = path.dirname(createRequire(import.meta.url).resolve('typescript/package.json'))
const tsc = path.join(typescript, 'bin', 'tsc')
try {
  execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit' })
} catch {
  console.error(`${manifest.name}: the TypeScript build failed (errors above).`)
  process.exit(1)
}

// tsc rewrites `./x.ts` to `./x.js` in JavaScript but leaves it in declarations; a `.ts` path in a .d.ts is an
// error for TypeScript before 5.7 and for tools like attw, so declarations get the same `.js` paths.
const RELATIVE_TS = /((?:from\s+|import\s*\(\s*)['"]\.{1,2}\/[^'"]*?)\.ts(['"])/g
for (const entry of readdirSync(path.join(packageDir, 'dist'), { recursive: true })) {
  if (!entry.endsWith('.d.ts')) continue
  const file = path.join(packageDir, 'dist', entry)
  const text = readFileSync(file, 'utf8')
  const rewritten = text.replace(RELATIVE_TS, '$1.js$2')
  if (rewritten !== text) writeFileSync(file, rewritten)
}

for (const dir of values.copy) {
  if (!dir.startsWith('src/')) throw new Error(`--copy takes a folder under src/, got "${dir}".`)
  cpSync(path.join(packageDir, dir), path.join(packageDir, 'dist', dir.slice('src/'.length)), {
    recursive: true,
  })
}

/** Every file path in an exports map (nested conditions included), except the in-repository source ones. */
function targets(entry) {
  if (typeof entry === 'string') return [entry]
  if (entry === null || typeof entry !== 'object') return []
  return Object.entries(entry).flatMap(([key, value]) =>
    key === '@statesource/source' ? [] : targets(value),
  )
}
const bins = typeof manifest.bin === 'string' ? [manifest.bin] : Object.values(manifest.bin ?? {})
const missing = [...targets(manifest.exports), ...bins].filter(
  (file) => !existsSync(path.join(packageDir, file)),
)
if (missing.length > 0) {
  console.error(
    `${manifest.name}: package.json points at files the build did not produce: ${missing.join(', ')}`,
  )
  process.exit(1)
}
console.log(`${manifest.name}: built dist/`)
