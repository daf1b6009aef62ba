// Hot path: measured by packages/sqlite/bench/journal-bench.ts and packages/bench/src/cases/recovery-case.ts (pnpm bench). Measure before and after changing this file.
import type BetterSqlite3 from 'better-sqlite3'
import { CompiledQuery, type Kysely } from 'kysely'

/**
 * One SQL statement a program asks its driver to run. Programs are generators that yield these and get
 * the result back, so the same journal logic runs synchronously on better-sqlite3 (the fast path, no
 * promise per statement) and asynchronously through any Kysely SQLite dialect.
 */
export type SqlOp =
  | { readonly kind: 'get'; readonly sql: string; readonly params: readonly unknown[] }
  | { readonly kind: 'all'; readonly sql: string; readonly params: readonly unknown[] }
  | { readonly kind: 'rows'; readonly sql: string; readonly params: readonly unknown[] }
  | { readonly kind: 'run'; readonly sql: string; readonly params: readonly unknown[] }

/** What a `run` op gives back. */
export interface RunResult {
  readonly changes: number
  readonly lastInsertRowid: number
}

/** A unit of database work: yields statements, returns a value. */
export type SqlProgram<T> = Generator<SqlOp, T, unknown>

/** Runs a statement that returns at most one row. */
export function* get<R>(sql: string, params: readonly unknown[]): SqlProgram<R | undefined> {
  return (yield { kind: 'get', sql, params }) as R | undefined
}

/** Runs a statement that returns rows. */
export function* all<R>(sql: string, params: readonly unknown[]): SqlProgram<R[]> {
  return (yield { kind: 'all', sql, params }) as R[]
}

/**
 * Runs a statement that returns rows, each as an array of its column values in the order of the SELECT.
 * Reading many rows this way is about twice as fast on better-sqlite3 as `all` (no object with a property
 * per column for each row), which is what the journal's pages and recovery reads need.
 */
export function* allValues<R extends readonly unknown[]>(
  sql: string,
  params: readonly unknown[],
): SqlProgram<R[]> {
  return (yield { kind: 'rows', sql, params }) as R[]
}

/** Runs a statement for its effect. */
export function* run(sql: string, params: readonly unknown[]): SqlProgram<RunResult> {
  return (yield { kind: 'run', sql, params }) as RunResult
}

/**
 * Where programs run. `read` runs outside a transaction (each statement sees committed data);
 * `write` wraps the program in one `BEGIN IMMEDIATE` transaction, so the check-then-insert logic of the
 * journal is race-free even with several processes on one file.
 */
export interface SqlDriver {
  /** True when `read` and `write` return plain values instead of promises. */
  readonly synchronous: boolean
  read<T>(program: SqlProgram<T>): T | Promise<T>
  write<T>(program: SqlProgram<T>): T | Promise<T>
  /**
   * Runs `program` in one read transaction: every statement sees the same snapshot of the database, however
   * other connections and processes write meanwhile (WAL readers keep the snapshot of their first read).
   */
  readConsistent<T>(program: SqlProgram<T>): T | Promise<T>
  /** True while a transaction this driver did not open is running on the connection. */
  isBusy(): boolean
}

/** The fast path: cached prepared statements on a better-sqlite3 connection, no promise per statement. */
export class BetterSqliteDriver implements SqlDriver {
  readonly synchronous = true
  readonly #db: BetterSqlite3.Database
  readonly #statements = new Map<string, BetterSqlite3.Statement<unknown[]>>()
  readonly #begin: BetterSqlite3.Statement<unknown[]>
  readonly #beginRead: BetterSqlite3.Statement<unknown[]>
  readonly #commit: BetterSqlite3.Statement<unknown[]>
  readonly #rollback: BetterSqlite3.Statement<unknown[]>

  constructor(db: BetterSqlite3.Database) {
    this.#db = db
    this.#begin = db.prepare('BEGIN IMMEDIATE')
    this.#beginRead = db.prepare('BEGIN DEFERRED')
    this.#commit = db.prepare('COMMIT')
    this.#rollback = db.prepare('ROLLBACK')
  }

  isBusy(): boolean {
    return this.#db.inTransaction
  }

  read<T>(program: SqlProgram<T>): T {
    return this.#drive(program)
  }

  readConsistent<T>(program: SqlProgram<T>): T {
    // Inside a transaction already open on this connection, its snapshot holds for every statement.
    if (this.#db.inTransaction) return this.#drive(program)
    this.#beginRead.run()
    try {
      const result = this.#drive(program)
      this.#commit.run()
      return result
    } catch (error) {
      if (this.#db.inTransaction) this.#rollback.run()
      throw error
    }
  }

  write<T>(program: SqlProgram<T>): T | Promise<T> {
    // Another transaction on this connection (for example an application's Kysely transaction between two
    // awaits): joining it would make our commit depend on theirs, so wait until it ends.
    if (this.#db.inTransaction) return whenIdle(this).then(() => this.write(program))
    return this.writeNow(program)
  }

  /** The better-sqlite3 connection. */
  get database(): BetterSqlite3.Database {
    return this.#db
  }

  /** Runs `program` in a write transaction now; the connection must not be in a transaction. */
  writeNow<T>(program: SqlProgram<T>): T {
    return this.writeSync(() => this.#drive(program))
  }

  /** Runs `body` in a `BEGIN IMMEDIATE` transaction now; the connection must not be in a transaction. */
  writeSync<T>(body: () => T): T {
    this.#begin.run()
    try {
      const result = body()
      this.#commit.run()
      return result
    } catch (error) {
      if (this.#db.inTransaction) this.#rollback.run()
      throw error
    }
  }

  #drive<T>(program: SqlProgram<T>): T {
    let step = program.next()
    while (!step.done) {
      let value: unknown
      let failed = false
      try {
        value = this.#execute(step.value)
      } catch (error) {
        failed = true
        value = error
      }
      step = failed ? program.throw(value) : program.next(value)
    }
    return step.value
  }

  #execute(op: SqlOp): unknown {
    // A statement returning arrays is a statement of its own (raw mode is a setting of the statement).
    const key = op.kind === 'rows' ? `rows:${op.sql}` : op.sql
    let statement = this.#statements.get(key)
    if (!statement) {
      statement = this.#db.prepare<unknown[]>(op.sql)
      if (op.kind === 'rows') statement.raw(true)
      // Only constant SQL is cached; programs never build SQL from data, so this map stays small.
      if (this.#statements.size < 256) this.#statements.set(key, statement)
    }
    switch (op.kind) {
      case 'get':
        return statement.get(op.params as unknown[])
      case 'all':
      case 'rows':
        return statement.all(op.params as unknown[])
      case 'run': {
        const result = statement.run(op.params as unknown[])
        return { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) }
      }
    }
  }
}

/** Runs programs through a Kysely instance on any SQLite dialect: every statement goes through Kysely. */
export class KyselyDriver implements SqlDriver {
  readonly synchronous = false
  readonly #kysely: Kysely<any>

  constructor(kysely: Kysely<any>) {
    this.#kysely = kysely
  }

  isBusy(): boolean {
    return false
  }

  read<T>(program: SqlProgram<T>): Promise<T> {
    return driveAsync(this.#kysely, program)
  }

  readConsistent<T>(program: SqlProgram<T>): Promise<T> {
    return this.#kysely.connection().execute(async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('BEGIN DEFERRED'))
      try {
        const result = await driveAsync(connection, program)
        await connection.executeQuery(CompiledQuery.raw('COMMIT'))
        return result
      } catch (error) {
        await connection.executeQuery(CompiledQuery.raw('ROLLBACK')).catch(() => undefined)
        throw error
      }
    })
  }

  write<T>(program: SqlProgram<T>): Promise<T> {
    // `connection()` holds Kysely's connection for the whole callback, so nothing else interleaves.
    return this.#kysely.connection().execute(async (connection) => {
      await connection.executeQuery(CompiledQuery.raw('BEGIN IMMEDIATE'))
      try {
        const result = await driveAsync(connection, program)
        await connection.executeQuery(CompiledQuery.raw('COMMIT'))
        return result
      } catch (error) {
        await connection.executeQuery(CompiledQuery.raw('ROLLBACK')).catch(() => undefined)
        throw error
      }
    })
  }
}

/** Runs `program` statement by statement through `kysely` (a Kysely instance, connection or transaction). */
export async function driveAsync<T>(kysely: Kysely<any>, program: SqlProgram<T>): Promise<T> {
  let step = program.next()
  while (!step.done) {
    let value: unknown
    let failed = false
    try {
      value = await executeKysely(kysely, step.value)
    } catch (error) {
      failed = true
      value = error
    }
    step = failed ? program.throw(value) : program.next(value)
  }
  return step.value
}

async function executeKysely(kysely: Kysely<any>, op: SqlOp): Promise<unknown> {
  const result = await kysely.executeQuery(CompiledQuery.raw(op.sql, [...op.params]))
  switch (op.kind) {
    case 'get':
      return result.rows[0]
    case 'all':
      return result.rows
    case 'rows':
      // SQLite dialects return each row as an object whose keys follow the SELECT's columns.
      return (result.rows as Record<string, unknown>[]).map((row) => Object.values(row))
    case 'run':
      return {
        changes: Number(result.numAffectedRows ?? 0n),
        lastInsertRowid: Number(result.insertId ?? 0n),
      } satisfies RunResult
  }
}

/** Resolves once no foreign transaction is open on the driver's connection. */
export async function whenIdle(driver: SqlDriver): Promise<void> {
  while (driver.isBusy()) await new Promise((resolve) => setTimeout(resolve, 1))
}
