// The sync client: pull every page, apply it, push local changes, read the result of each record
// (api-spec/sync-protocol.md). Runs by itself when something is waiting and the network is there,
// backing off after failures, and at once on "sync now".

import * as db from './db.js'
import { authorised, HttpError, NetworkError, SessionError } from './api.js'
import { uploadPending } from './photos.js'

// 2: the `feedback` table; 3: the `attachments` table. A rise makes the server answer the next
// pull with a replacement.
const SCHEMA_VERSION = 3
const PUSH_BATCH = 200
const MAX_ROUNDS = 3
const LOCAL_COLUMNS = ['_status', '_changed', '_rev', '_error_codes']
// Columns the server owns: a pulled version always wins for these.
const SERVER_COLUMNS = new Set([
  'status', 'review_comment', 'redacted', 'sync_error', 'sync_errors', 'area_code', 'clock_corrected',
  'observed_at_device', 'user_id', 'created_at', 'updated_at', 'server_seq',
])

async function headers() {
  return { 'x-client-time': String(Date.now()), 'x-pending-count': String(await db.pendingCount()) }
}

/** Pulls every page from the stored cursor and applies them in one transaction. */
async function pull() {
  const lastPulledAt = (await db.setting('last_pulled_at')) ?? null
  const merged = {}
  let strategy = null
  let timestamp = null
  let pageToken = null
  do {
    const params = new URLSearchParams({ last_pulled_at: String(lastPulledAt ?? 'null'), schema_version: String(SCHEMA_VERSION) })
    if (pageToken) params.set('page_token', pageToken)
    const response = await authorised(`/api/v1/sync/pull?${params}`, {}, await headers())
    const page = await response.json()
    for (const [table, lists] of Object.entries(page.changes ?? {})) {
      const records = (merged[table] ??= new Map())
      for (const raw of lists.created ?? []) records.set(raw.id, { raw })
      for (const raw of lists.updated ?? []) records.set(raw.id, { raw })
      for (const id of lists.deleted ?? []) records.set(id, { deleted: id })
    }
    strategy ??= page.experimentalStrategy ?? null
    timestamp = page.timestamp
    pageToken = page.has_more ? page.page_token : null
  } while (pageToken)
  await apply(merged, strategy === 'replacement', timestamp)
  return Object.values(merged).reduce((n, records) => n + records.size, 0)
}

/** The stable codes of a pulled record's `sync_errors` (a JSON array in a string), or null. */
function errorCodes(raw) {
  if (!raw.sync_errors) return null
  try {
    const listed = JSON.parse(raw.sync_errors)
    return Array.isArray(listed) ? listed.map((error) => error?.code).filter((code) => typeof code === 'string') : null
  } catch {
    return null
  }
}

function merge(local, raw) {
  if (!local || !db.isPending(local)) {
    return { ...raw, _status: 'synced', _changed: [], _rev: local?._rev ?? 0, _error_codes: errorCodes(raw) }
  }
  // Local edits win per column; the server's own columns come from the server.
  const kept = local._status === 'created'
    ? Object.keys(local).filter((column) => !SERVER_COLUMNS.has(column))
    : [...local._changed, ...LOCAL_COLUMNS]
  const next = { ...raw }
  for (const column of kept) if (column in local) next[column] = local[column]
  return next
}

async function apply(merged, replacement, timestamp) {
  const tables = [...db.RECORD_TABLES, ...db.REFERENCE_TABLES]
  await db.transaction([...tables, 'kv'], async (stores, req) => {
    for (const table of tables) {
      const records = merged[table]
      const store = stores[table]
      if (replacement) {
        for (const local of await req(store.getAll())) {
          const keep = records?.has(local.id) || local._status === 'created'
          if (!keep) store.delete(local.id)
        }
      }
      if (!records) continue
      for (const entry of records.values()) {
        if (entry.deleted) {
          store.delete(entry.deleted)
        } else if (db.RECORD_TABLES.includes(table)) {
          store.put(merge(await req(store.get(entry.raw.id)), entry.raw))
        } else {
          store.put(entry.raw)
        }
      }
    }
    stores.kv.put(timestamp, 'last_pulled_at')
  })
}

/** Pushes what is waiting; returns how many records the server took and how many conflicted. */
async function push() {
  const pending = []
  for (const table of db.RECORD_TABLES) {
    for (const record of await db.all(table)) if (db.isPending(record)) pending.push({ table, record })
  }
  let conflicts = 0
  let written = 0
  for (let start = 0; start < pending.length; start += PUSH_BATCH) {
    const batch = pending.slice(start, start + PUSH_BATCH)
    const body = {}
    for (const table of db.RECORD_TABLES) body[table] = { created: [], updated: [], deleted: [] }
    for (const { table, record } of batch) {
      const raw = { ...record, _changed: (record._changed ?? []).join(',') }
      delete raw._rev
      delete raw._error_codes
      body[table][record._status === 'created' ? 'created' : 'updated'].push(raw)
    }
    const lastPulledAt = (await db.setting('last_pulled_at')) ?? 'null'
    const response = await authorised(
      `/api/v1/sync/push?last_pulled_at=${lastPulledAt}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
      await headers(),
    )
    const answer = await response.json()
    const sent = new Map(batch.map(({ table, record }) => [`${table}/${record.id}`, record._rev]))
    await db.transaction(db.RECORD_TABLES, async (stores, req) => {
      for (const result of answer.results ?? []) {
        const store = stores[result.table]
        if (!store) continue
        if (result.status === 'conflict') {
          // An attachment waits for its observation (not stored yet): no new pull helps it.
          if (result.table !== 'attachments') conflicts += 1
          continue
        }
        written += 1
        const local = await req(store.get(result.id))
        // Edited again while the push was under way: that edit still has to go.
        if (!local || local._rev !== sent.get(`${result.table}/${result.id}`)) continue
        const failed = result.status === 'quarantined' || result.status === 'forbidden'
        store.put({
          ...local, _status: 'synced', _changed: [],
          sync_error: failed ? result.error ?? result.status : null,
          _error_codes: failed ? (result.errors ?? []).map((error) => error.code) : null,
        })
      }
    })
  }
  return { conflicts, written, pushed: pending.length }
}

/** A sync: pull, push, and pull again when the push changed something (to see the stored versions). */
async function syncOnce() {
  let changed = await pull()
  for (let round = 0; round < MAX_ROUNDS; round += 1) {
    const { conflicts, written } = await push()
    if (written || conflicts) changed += await pull()
    if (!conflicts) break
  }
  // The records first, then the photos: an observation never waits for its photo.
  changed += await uploadPending()
  await db.saveSetting('last_sync_at', Date.now())
  return changed
}

/** Keeps the phone in sync: after local changes, when the network returns, and on request. */
export class Syncer extends EventTarget {
  constructor() {
    super()
    this.running = false
    this.again = false
    this.failures = 0
    this.timer = null
    this.nextAttemptAt = null
    this.lastError = null
    this.stopped = null // 'expired' | 'revoked' | 'update' once the server will not sync this session
    window.addEventListener('online', () => this.syncNow())
    window.addEventListener('offline', () => this.emit())
  }

  emit() {
    this.dispatchEvent(new Event('state'))
  }

  /** Syncs soon (after local changes): a short pause gathers a burst of taps into one push. */
  soon(delay = 1500) {
    if (this.stopped) return
    if (this.failures > 0 && this.timer) return // a back-off is already waiting
    this.schedule(delay)
  }

  schedule(delay) {
    clearTimeout(this.timer)
    this.nextAttemptAt = Date.now() + delay
    this.timer = setTimeout(() => this.run(), delay)
  }

  /** Syncs at once, forgetting any back-off. */
  syncNow() {
    this.failures = 0
    clearTimeout(this.timer)
    this.timer = null
    return this.run()
  }

  resume() {
    this.stopped = null
    this.lastError = null
    return this.syncNow()
  }

  async run() {
    this.timer = null
    this.nextAttemptAt = null
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    if (!navigator.onLine) {
      this.emit()
      return // the `online` event starts the next attempt
    }
    this.running = true
    this.emit()
    try {
      const changed = await syncOnce()
      this.failures = 0
      this.lastError = null
      if (changed) this.dispatchEvent(new Event('change'))
    } catch (error) {
      this.handle(error)
    } finally {
      this.running = false
      this.dispatchEvent(new Event('change'))
      this.emit()
    }
    if (this.again && !this.stopped) {
      this.again = false
      this.schedule(200)
    }
  }

  handle(error) {
    if (error instanceof SessionError) {
      this.stopped = error.kind
    } else if (error instanceof HttpError && error.status === 426) {
      this.stopped = 'update'
    } else {
      // A network failure, a 5xx or anything unexpected: nothing of the push was stored; retry.
      this.failures += 1
      const delay = Math.min(300_000, 2000 * 2 ** (this.failures - 1)) * (0.75 + Math.random() / 2)
      this.lastError = error instanceof NetworkError ? 'network' : error.message
      this.schedule(delay)
    }
    if (!(error instanceof NetworkError)) console.warn('sync failed', error)
  }
}
