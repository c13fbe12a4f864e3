// The server: login, tokens that renew themselves (once at a time across tabs, as refresh tokens
// rotate), requests that carry them, and downloads saved under the server's file name.

const SESSION_KEY = 'lagesbild.dashboard.session'
const DEVICE_KEY = 'lagesbild.dashboard.device'

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

/** The session can no longer be used: `expired` (log in again) or `revoked`. */
export class SessionError extends Error {
  constructor(kind) {
    super(kind)
    this.kind = kind
  }
}

/** The account is a field account, which has the field app instead. */
export class FieldAccountError extends Error {}

async function send(path, init = {}) {
  let response
  try {
    response = await fetch(path, { ...init, cache: 'no-store', credentials: 'omit' })
  } catch (error) {
    throw new NetworkError(error.message)
  }
  if (response.ok) return response
  let problem = null
  try {
    problem = await response.json()
  } catch {
    // not a problem document
  }
  throw new HttpError(response.status, problem)
}

function randomId() {
  if (crypto.randomUUID) return crypto.randomUUID()
  // crypto.randomUUID needs a secure context; a dashboard on a LAN address over plain HTTP has none.
  const hex = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`
}

/** This browser's device id, made once and kept, so logging in again is the same device. */
function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY)
  if (!id) {
    id = randomId()
    localStorage.setItem(DEVICE_KEY, id)
  }
  return id
}

function deviceName() {
  const ua = navigator.userAgent
  const browser = /Firefox\//.test(ua) ? 'Firefox' : /Edg\//.test(ua) ? 'Edge' : /Chrom/.test(ua) ? 'Chrome' : /Safari\//.test(ua) ? 'Safari' : 'webbläsare'
  return `Dashboard (${browser})`
}

/** The stored session: tokens, their expiry, and the user (`me`). */
export function session() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) ?? 'null')
  } catch {
    return null
  }
}

function saveSession(value) {
  if (value) localStorage.setItem(SESSION_KEY, JSON.stringify(value))
  else localStorage.removeItem(SESSION_KEY)
}

function withTokens(current, tokens) {
  const ttl = (tokens.expires_in ?? 900) * 1000
  return { ...current, access_token: tokens.access_token, refresh_token: tokens.refresh_token, access_expires_at: Date.now() + ttl, access_ttl_ms: ttl }
}

/** Logs in and keeps the session. Field accounts are turned away (and logged out again). */
export async function login(organisation, username, password) {
  const device_id = deviceId()
  const response = await send('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ organisation: organisation.trim(), username: username.trim(), password, device_id, device_name: deviceName() }),
  })
  let current = withTokens({ organisation: organisation.trim().toLowerCase(), device_id }, await response.json())
  const me = await (await send('/api/v1/me', { headers: { authorization: `Bearer ${current.access_token}` } })).json()
  current = { ...current, me }
  if (me.role === 'field') {
    await send('/api/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${current.access_token}` } }).catch(() => {})
    throw new FieldAccountError('field account')
  }
  saveSession(current)
  return current
}

export async function logout() {
  if (session()?.refresh_token) await request('/api/v1/auth/logout', { method: 'POST' }).catch(() => {})
  const last = session()
  saveSession(last ? { organisation: last.organisation, username: last.me?.username } : null)
}

let refreshing = null

/** Trades the refresh token for new tokens, once at a time across every tab (a lock). */
function refresh(stale) {
  const exchange = async () => {
    const current = session()
    if (!current?.refresh_token) throw new SessionError(current?.ended ?? 'expired')
    // Another tab may already have renewed it.
    if (current.access_token !== stale && current.access_expires_at > Date.now() + 5_000) return current
    try {
      const response = await send('/api/v1/auth/refresh', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refresh_token: current.refresh_token }),
      })
      const next = withTokens(current, await response.json())
      saveSession(next)
      return next
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) {
        const kind = ['device_revoked', 'account_disabled'].includes(error.code) ? 'revoked' : 'expired'
        saveSession({ organisation: current.organisation, username: current.me?.username, ended: kind })
        throw new SessionError(kind)
      }
      throw error
    }
  }
  refreshing ??= (navigator.locks ? navigator.locks.request('lagesbild-dashboard-refresh', exchange) : exchange()).finally(() => {
    refreshing = null
  })
  return refreshing
}

/** A request with the access token, renewed shortly before it expires or when refused. */
export async function request(path, { method = 'GET', body, headers = {} } = {}) {
  let current = session()
  if (!current?.refresh_token) throw new SessionError(current?.ended ?? 'expired')
  const margin = Math.min(30_000, (current.access_ttl_ms ?? 900_000) / 4)
  if (current.access_expires_at < Date.now() + margin) current = await refresh(current.access_token)
  const init = (token) => ({
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }), authorization: `Bearer ${token}` },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  try {
    return await send(path, init(current.access_token))
  } catch (error) {
    if (!(error instanceof HttpError) || error.status !== 401) throw error
    if (['device_revoked', 'account_disabled'].includes(error.code)) {
      saveSession({ organisation: current.organisation, username: current.me?.username, ended: 'revoked' })
      throw new SessionError('revoked')
    }
    return send(path, init((await refresh(current.access_token)).access_token))
  }
}

export async function get(path) {
  return (await request(path)).json()
}

export async function patch(path, body) {
  return (await request(path, { method: 'PATCH', body })).json()
}

export async function post(path, body) {
  return (await request(path, { method: 'POST', body })).json()
}

/** The file name a `Content-Disposition` header gives (RFC 6266, `filename*` first). */
export function filenameOf(disposition, fallback) {
  if (!disposition) return fallback
  const extended = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(disposition)
  if (extended) {
    try {
      return decodeURIComponent(extended[1].trim())
    } catch {
      // fall through to the plain name
    }
  }
  const plain = /filename\s*=\s*"([^"]*)"/.exec(disposition) ?? /filename\s*=\s*([^;]+)/.exec(disposition)
  const name = plain?.[1]?.trim()
  // Never a path: only the last segment.
  return name ? name.split(/[\\/]/).pop() : fallback
}

/** Fetches a file with the token; returns its bytes as a blob and the server's file name. */
export async function fetchFile(path, fallbackName) {
  const response = await request(path)
  const blob = await response.blob()
  return { blob, filename: filenameOf(response.headers.get('content-disposition'), fallbackName) }
}
