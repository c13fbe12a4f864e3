// The phone's database: IndexedDB, which survives reloads, restarts and the lack of a network.
//
// Records keep the raw columns of the sync protocol plus three local ones: `_status`
// (`created`, `updated` or `synced`), `_changed` (the columns edited since the last sync) and
// `_rev` (a local edit counter, so an edit made while a push is under way is not lost).

const NAME = 'lagesbild'
// 2: the `feedback` table (app schema version 2 of the sync protocol).
// 3: the `attachments` table (schema version 3) and the `photos` store, this phone's own copy of
//    the photos it took (by SHA-256), kept until the server has them.
const VERSION = 3

export const RECORD_TABLES = ['observations', 'activity_logs', 'attachments']
// Local only: the bytes of photos taken here, `{ sha256, blob, uploaded, error }`.
export const PHOTOS = 'photos'
// Tables the server sends down only; a pulled version replaces the local one whole.
export const REFERENCE_TABLES = ['categories', 'activity_types', 'units', 'areas', 'feedback']

let opened = null

function request(req) {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

export function open() {
  opened ??= new Promise((resolve, reject) => {
    const req = indexedDB.open(NAME, VERSION)
    req.onupgradeneeded = () => {
      // From nothing, or from an older version: add what is missing, keep what is there (the
      // server sends the new tables whole at the next pull, as the app's schema version rose).
      const db = req.result
      if (!db.objectStoreNames.contains('kv')) db.createObjectStore('kv')
      for (const table of [...RECORD_TABLES, ...REFERENCE_TABLES]) {
        if (!db.objectStoreNames.contains(table)) db.createObjectStore(table, { keyPath: 'id' })
      }
      if (!db.objectStoreNames.contains(PHOTOS)) db.createObjectStore(PHOTOS, { keyPath: 'sha256' })
    }
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
  return opened
}

/** Runs `work(stores)` in one read-write transaction over `names`; resolves when it commits. */
export async function transaction(names, work) {
  const db = await open()
  const tx = db.transaction(names, 'readwrite')
  const stores = Object.fromEntries(names.map((name) => [name, tx.objectStore(name)]))
  let result
  const done = new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(result)
    tx.onerror = () => reject(tx.error)
    tx.onabort = () => reject(tx.error ?? new Error('transaction aborted'))
  })
  try {
    result = await work(stores, request)
  } catch (error) {
    tx.abort() // nothing of a failed piece of work is kept
    done.catch(() => {})
    throw error
  }
  return done
}

export async function get(store, key) {
  const db = await open()
  return request(db.transaction(store).objectStore(store).get(key))
}

export async function all(store) {
  const db = await open()
  return request(db.transaction(store).objectStore(store).getAll())
}

export async function put(store, value, key) {
  return transaction([store], (s) => {
    if (key === undefined) s[store].put(value)
    else s[store].put(value, key)
  })
}

export async function remove(store, key) {
  return transaction([store], (s) => {
    s[store].delete(key)
  })
}

export const setting = (key) => get('kv', key)
export const saveSetting = (key, value) => put('kv', value, key)

/** Forgets every record, every reference entry and the sync cursor (another user logged in). */
export async function clearData() {
  await transaction([...RECORD_TABLES, ...REFERENCE_TABLES, PHOTOS, 'kv'], (s) => {
    for (const table of [...RECORD_TABLES, ...REFERENCE_TABLES, PHOTOS]) s[table].clear()
    s.kv.delete('last_pulled_at')
    s.kv.delete('last_sync_at')
    s.kv.delete('open_shift')
  })
}

/** Whether a record has local changes not yet accepted by the server. */
export function isPending(record) {
  return record._status === 'created' || record._status === 'updated'
}

/** Records waiting to be sent (an attachment goes with its observation and is not counted). */
export async function pendingCount() {
  let count = 0
  for (const table of ['observations', 'activity_logs']) count += (await all(table)).filter(isPending).length
  return count
}

/**
 * Writes a local edit: a new record whole, an existing one by its `changedColumns`. Marks the
 * columns as changed, bumps the edit counter and clears a shown sync error (the edit is the fix).
 * `photos` (`{ id, sha256, blob, content_type, width, height }`, see photos.js) are attached to
 * it in the same transaction: the record is never kept without the photos taken for it.
 */
export async function saveRecord(table, record, changedColumns, photos = []) {
  const names = photos.length ? [table, 'attachments', PHOTOS] : [table]
  return transaction(names, async (s, req) => {
    for (const photo of photos) {
      s[PHOTOS].put({ sha256: photo.sha256, blob: photo.blob, uploaded: false, error: null })
      s.attachments.put({
        id: photo.id, observation_id: record.id, sha256: photo.sha256, content_type: photo.content_type,
        byte_size: photo.blob.size, width: photo.width, height: photo.height, created_at: Date.now(),
        _status: 'created', _changed: [], _rev: 1,
      })
    }
    const stored = await req(s[table].get(record.id))
    let next
    if (!stored) {
      next = { ...record, _status: 'created', _changed: [] }
    } else {
      next = { ...stored, sync_error: null, sync_errors: null, _error_codes: null }
      for (const column of changedColumns) next[column] = record[column]
      if (stored._status !== 'created') {
        next._status = 'updated'
        next._changed = [...new Set([...(stored._changed ?? []), ...changedColumns])]
      }
    }
    next._rev = (stored?._rev ?? 0) + 1
    s[table].put(next)
  })
}
