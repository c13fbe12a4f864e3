// A simulated phone: a login with its own device id, an in-memory WatermelonDB (LokiJS adapter)
// and WatermelonDB's own synchronize() wired to lagesbild's pull and push endpoints.

'use strict'

const { Database, Q } = require('@nozbe/watermelondb')
const { synchronize, hasUnsyncedChanges } = require('@nozbe/watermelondb/sync')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const logger = require('@nozbe/watermelondb/utils/common/logger').default
const { schema, modelClasses } = require('./schema')

const TABLES = ['categories', 'activity_types', 'units', 'areas', 'observations', 'activity_logs', 'feedback', 'attachments']

// WatermelonDB reports recoverable sync anomalies (a `created` record that already exists, an
// `updated` one that does not, a cursor going backwards) only through its logger. Collect them so
// that tests can assert that the server never provokes one.
const watermelonErrors = []
const verbose = Boolean(process.env.LAGESBILD_TEST_LOG)
const text = (messages) => messages.map((m) => (m instanceof Error ? m.message : String(m))).join(' ')
let syncingDevice = null
logger.error = (...messages) => {
  watermelonErrors.push(`${syncingDevice ? `(${syncingDevice}) ` : ''}${text(messages)}`)
  if (verbose) console.error('[watermelon error]', ...messages)
}
logger.warn = (...messages) => {
  if (verbose) console.warn('[watermelon warn]', ...messages)
}
logger.log = (...messages) => {
  if (verbose) console.log('[watermelon]', ...messages)
}

/** The WatermelonDB errors logged since the last call. */
function takeWatermelonErrors() {
  return watermelonErrors.splice(0, watermelonErrors.length)
}

class ApiError extends Error {
  constructor(method, path, status, body) {
    super(`${method} ${path} → ${status} ${body && body.code ? body.code : ''}: ${JSON.stringify(body)}`)
    this.status = status
    this.code = body && body.code
    this.body = body
  }
}

/** A logged-in user on one device, for the REST API. */
class Session {
  constructor(server, username, deviceId) {
    this.server = server
    this.username = username
    this.deviceId = deviceId
    this.tokens = null
  }

  async login() {
    const body = await this.request('POST', '/api/v1/auth/login', {
      organisation: this.server.org,
      username: this.username,
      password: this.server.password,
      device_id: this.deviceId,
      device_name: `${this.username}s ${this.deviceId}`,
    }, { anonymous: true })
    this.tokens = body
    return this
  }

  /** Rotates the tokens (the old refresh token is spent). */
  async refresh() {
    this.tokens = await this.request('POST', '/api/v1/auth/refresh', { refresh_token: this.tokens.refresh_token }, {
      anonymous: true,
    })
    return this
  }

  get userId() {
    return this.server.userIds[this.username]
  }

  /** JSON request; throws an ApiError unless 2xx. */
  async request(method, path, body, options = {}) {
    const headers = { accept: 'application/json', ...(options.headers || {}) }
    if (!options.anonymous) headers.authorization = `Bearer ${this.tokens.access_token}`
    if (body !== undefined) headers['content-type'] = 'application/json'
    const response = await fetch(`${this.server.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const textBody = await response.text()
    let parsed = null
    try {
      parsed = textBody ? JSON.parse(textBody) : null
    } catch {
      parsed = textBody
    }
    if (!response.ok) throw new ApiError(method, path, response.status, parsed)
    return parsed
  }

  get(path) {
    return this.request('GET', path)
  }

  post(path, body) {
    return this.request('POST', path, body)
  }

  patch(path, body) {
    return this.request('PATCH', path, body)
  }
}

let databases = 0

/** A phone: a session plus a WatermelonDB database that syncs with the server. */
class Phone extends Session {
  /**
   * @param options.pullLimit records per pull page (small, so that pulls really page)
   * @param options.schemaVersion the app schema version its pulls name (an app not yet updated
   *   names 1); WatermelonDB's own (the schema's) when absent
   */
  constructor(server, username, deviceId, options = {}) {
    super(server, username, deviceId)
    this.pullLimit = options.pullLimit ?? 7
    this.schemaVersion = options.schemaVersion ?? null
    databases += 1
    const adapter = new LokiJSAdapter({
      schema,
      dbName: `phone-${databases}-${deviceId}`,
      useWebWorker: false,
      useIncrementalIndexedDB: false,
      // In memory only: Loki's autosave timer would keep the test process alive.
      extraLokiOptions: { autosave: false },
    })
    this.database = new Database({ adapter, modelClasses })
    /** Every pull page and push answer, in order. */
    this.trace = []
  }

  static async open(server, username, deviceId, options) {
    return new Phone(server, username, deviceId, options).login()
  }

  /** Records waiting to be pushed (created, updated, deleted), as X-Pending-Count. */
  async pendingCount() {
    let count = 0
    for (const table of ['observations', 'activity_logs']) {
      const collection = this.database.get(table)
      count += await collection.query(Q.where('_status', Q.oneOf(['created', 'updated']))).fetchCount()
      count += (await this.database.adapter.getDeletedRecords(table)).length
    }
    return count
  }

  async syncHeaders() {
    return { 'x-client-time': String(Date.now()), 'x-pending-count': String(await this.pendingCount()) }
  }

  /** pullChanges: every page of one pull, merged, with the last page's timestamp. */
  async pullChanges({ lastPulledAt, schemaVersion }) {
    const merged = new PulledChanges()
    let pageToken = null
    let page
    let pages = 0
    do {
      const params = new URLSearchParams({
        last_pulled_at: lastPulledAt == null ? 'null' : String(lastPulledAt),
        schema_version: String(this.schemaVersion ?? schemaVersion),
      })
      if (this.pullLimit) params.set('limit', String(this.pullLimit))
      if (pageToken) params.set('page_token', pageToken)
      page = await this.request('GET', `/api/v1/sync/pull?${params}`, undefined, { headers: await this.syncHeaders() })
      pages += 1
      this.trace.push({ kind: 'pull', lastPulledAt, page })
      merged.add(page.changes)
      if (page.has_more && !page.page_token) throw new Error('has_more without a page_token')
      pageToken = page.has_more ? page.page_token : null
    } while (pageToken)
    const result = { changes: merged.toChangeSet(), timestamp: page.timestamp }
    if (page.experimentalStrategy) result.experimentalStrategy = page.experimentalStrategy
    this.lastPull = { ...result, pages }
    return result
  }

  /** pushChanges: one POST; WatermelonDB keeps the rejected (conflicting) ids unsynced. */
  async pushChanges({ changes, lastPulledAt }, hooks = {}) {
    if (hooks.beforePush) await hooks.beforePush(changes)
    const body = await this.request('POST', `/api/v1/sync/push?last_pulled_at=${lastPulledAt}`, changes, {
      headers: await this.syncHeaders(),
    })
    this.trace.push({ kind: 'push', lastPulledAt, changes, body })
    this.lastPush = { changes, body }
    if (hooks.losePushResponse) {
      // The server has answered (and committed); the answer never reaches the phone.
      throw new Error('network: the push response was lost')
    }
    return { experimentalRejectedIds: body.experimentalRejectedIds }
  }

  /**
   * Runs WatermelonDB's synchronize().
   * @param hooks.beforePush   async (changes) => {} run after the pull, before the push is sent
   * @param hooks.losePushResponse  throw away the push's response after the server answered
   */
  async sync(hooks = {}) {
    this.lastPull = null
    this.lastPush = null
    const log = {}
    this.lastSyncLog = log
    const outer = syncingDevice
    syncingDevice = this.deviceId
    try {
      await synchronize({
        database: this.database,
        pullChanges: (args) => this.pullChanges(args),
        pushChanges: (args) => this.pushChanges(args, hooks),
        log,
      })
    } finally {
      syncingDevice = outer
    }
    return log
  }

  // --- the local database ---

  async create(table, fields) {
    return this.database.write(() =>
      this.database.get(table).create((record) => {
        for (const [key, value] of Object.entries(fields)) record[key] = value
      }),
    )
  }

  async update(record, fields) {
    await this.database.write(() =>
      record.update((r) => {
        for (const [key, value] of Object.entries(fields)) r[key] = value
      }),
    )
    return record
  }

  async markAsDeleted(record) {
    await this.database.write(() => record.markAsDeleted())
  }

  /** The record with this id, or null (deleted-and-pushed and never-seen records are null). */
  async find(table, id) {
    const found = await this.database.get(table).query(Q.where('id', id)).fetch()
    return found[0] || null
  }

  async all(table) {
    return this.database.get(table).query().fetch()
  }

  async count(table) {
    return this.database.get(table).query().fetchCount()
  }

  async deletedIds(table) {
    return this.database.adapter.getDeletedRecords(table)
  }

  hasUnsyncedChanges() {
    return hasUnsyncedChanges({ database: this.database })
  }

  /** The stored sync cursor (WatermelonDB's own local key). */
  async lastPulledAt() {
    return parseInt(await this.database.adapter.getLocal('__watermelon_last_pulled_at'), 10) || null
  }
}

/**
 * The pages of one pull merged into one change set. A record may appear in two pages (a stored
 * version and, later, its quarantined version sorted just after it): the later one wins, so that
 * WatermelonDB never sees one id twice.
 */
class PulledChanges {
  constructor() {
    this.tables = new Map()
  }

  table(name) {
    if (!this.tables.has(name)) this.tables.set(name, { records: new Map(), deleted: new Set() })
    return this.tables.get(name)
  }

  add(changes) {
    for (const [name, { created = [], updated = [], deleted = [] }] of Object.entries(changes || {})) {
      const table = this.table(name)
      for (const [bucket, list] of [['created', created], ['updated', updated]]) {
        for (const raw of list) {
          const earlier = table.records.get(raw.id)
          table.deleted.delete(raw.id)
          // A record new to this device stays `created` even if a later page updates it.
          table.records.set(raw.id, { bucket: earlier ? earlier.bucket : bucket, raw })
        }
      }
      for (const id of deleted) {
        table.records.delete(id)
        table.deleted.add(id)
      }
    }
  }

  toChangeSet() {
    const changeSet = {}
    for (const name of new Set([...TABLES, ...this.tables.keys()])) {
      const table = this.table(name)
      const created = []
      const updated = []
      for (const { bucket, raw } of table.records.values()) (bucket === 'created' ? created : updated).push(raw)
      changeSet[name] = { created, updated, deleted: [...table.deleted] }
    }
    return changeSet
  }
}

module.exports = { Session, Phone, ApiError, PulledChanges, takeWatermelonErrors }
