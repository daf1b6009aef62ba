// #region postgres
import { CqrsPattern } from '@statesource/core'
import { openPostgres } from '@statesource/postgres'

/** Opens the journal and stores on PostgreSQL and wires them into a topology (aggregates left to you). */
export async function openShop(url: string) {
  const pg = await openPostgres(url, { schema: 'shop', applicationName: 'shop-api' }) // migrations applied
  const builder = CqrsPattern.builder({ journal: pg.journal })
    .snapshotStore(pg.snapshotStore)
    .offsetStore(pg.offsetStore)
  return { pg, builder }
}
// #endregion postgres
