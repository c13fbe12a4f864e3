// The server: login, tokens that renew themselves, and requests that carry them.

import * as db from './db.js'

/** The request never reached the server, or its answer never came back. */
export class NetworkError extends Error {}

/** The server answered with a problem document. */
export class HttpError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`)
    this.status = status
    this.code = problem?.code
    this.problem = problem
  }
}

/** The session can no longer be used: `expired` (log in again) or `revoked` (ask an administrator). */
export class SessionError extends Error {
  constructor(kind) {
    super(kind)
    this.kind = kind
  }
}

async function send(path, init) {
  let response
  try {
    response = await fetch(path, { ...init, cache: 'no-store', credentials: 'omit' })
  } catch (error) {
    throw new NetworkError(error.message)
  }
  if (response.status >= 200 && response.status < 300) return response
  let problem = null
  try {
    problem = await response.json()
  } catch {
    // not a problem document (a proxy's page, a cut connection)
  }
  throw new HttpError(response.status, problem)
}

function uuid() {
  return crypto.randomUUID ? crypto.randomUUID() : uuidv7()
}

/** A UUIDv7: time-ordered, unique without coordination. */
export function uuidv7() {
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  let now = Date.now()
  for (let i = 5; i >= 0; i -= 1) {
    bytes[i] = now % 256
    now = Math.floor(now / 256)
  }
  bytes[6] = (bytes[6] & 0x0f) | 0x70
  bytes[8] = (bytes[8] & 0x3f) | 0x80
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** This install's device id, made once and kept for its life. */
export async function deviceId() {
  let id = await db.setting('device_id')
  if (!id) {
    id = uuid()
    await db.saveSetting('device_id', id)
  }
  return id
}

function deviceName() {
  const ua = navigator.userAgent
  const kind = /iPhone|iPad/.test(ua) ? 'iPhone' : /Android/.test(ua) ? 'Android' : 'webbläsare'
  return `Fältappen (${kind})`
}

function storeTokens(session, tokens) {
  return {
    ...session,
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    access_expires_at: Date.now() + (tokens.expires_in ?? 900) * 1000,
    access_ttl_ms: (tokens.expires_in ?? 900) * 1000,
  }
}

/** Logs in, registers this device, and keeps the session. Returns the session. */
export async function login(organisation, username, password) {
  const device_id = await deviceId()
  const response = await send('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organisation, username, password, device_id, device_name: deviceName() }),
  })
  let session = storeTokens({ organisation: organisation.trim().toLowerCase(), device_id }, await response.json())
  const me = await send('/api/v1/me', { headers: { authorization: `Bearer ${session.access_token}` } })
  session = { ...session, me: await me.json() }
  const previous = await db.setting('session_user')
  if (previous && previous !== session.me.id) await db.clearData()
  await db.saveSetting('session_user', session.me.id)
  await db.saveSetting('session', session)
  return session
}

export const session = () => db.setting('session')

export async function logout() {
  const current = await session()
  if (current?.refresh_token) {
    const ended = authorised('/api/v1/auth/logout', { method: 'POST' }).catch(() => {})
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 3000))])
  }
  await db.clearData()
  await db.saveSetting('session', null)
  await db.saveSetting('session_user', null)
}

let refreshing = null

/**
 * Trades the refresh token for new tokens, once at a time across every tab of the app (a lock):
 * each refresh token works only once, and presenting a spent one ends the session.
 * `stale` is the access token the caller found wanting; a tab that finds another already
 * replaced it takes the new one.
 */
function refresh(stale) {
  const exchange = async () => {
    const current = await session()
    if (!current?.refresh_token) throw new SessionError(current?.ended ?? 'expired')
    if (current.access_token && current.access_token !== stale && current.access_expires_at > Date.now() + 5_000) return current
    try {
      const response = await send('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      })
      const next = storeTokens(current, await response.json())
      await db.saveSetting('session', next)
      return next
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) {
        const kind = ['device_revoked', 'account_disabled'].includes(error.code) ? 'revoked' : 'expired'
        await db.saveSetting('session', { ...current, access_token: null, refresh_token: null, ended: kind })
        throw new SessionError(kind)
      }
      throw error
    }
  }
  refreshing ??= (navigator.locks ? navigator.locks.request('lagesbild-refresh', exchange) : exchange()).finally(() => {
    refreshing = null
  })
  return refreshing
}

/** A request with the access token, renewed when it has expired. */
export async function authorised(path, init = {}, extraHeaders = {}) {
  let current = await session()
  if (!current?.refresh_token) throw new SessionError(current?.ended ?? 'expired')
  // Renew a little before expiry, so a request does not start with a token about to lapse.
  const margin = Math.min(30_000, (current.access_ttl_ms ?? 900_000) / 4)
  if (!current.access_token || current.access_expires_at < Date.now() + margin) current = await refresh(current.access_token)
  const attempt = (token) =>
    send(path, { ...init, headers: { ...(init.headers ?? {}), ...extraHeaders, authorization: `Bearer ${token}` } })
  try {
    return await attempt(current.access_token)
  } catch (error) {
    if (!(error instanceof HttpError) || error.status !== 401) throw error
    if (['device_revoked', 'account_disabled'].includes(error.code)) {
      await db.saveSetting('session', { ...current, access_token: null, refresh_token: null, ended: 'revoked' })
      throw new SessionError('revoked')
    }
    return attempt((await refresh(current.access_token)).access_token)
  }
}
